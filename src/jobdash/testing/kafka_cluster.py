"""librdkafka's mock Kafka cluster in a helper process, for Kafka tests and benchmarks.

librdkafka ships a mock cluster that speaks the real Kafka protocol on
loopback (producer, consumer groups, metadata, topic auto-creation). Its
control API (``rd_kafka_mock_*``: take a broker down, change the advertised
address, create topics) is C only; confluent-kafka does not wrap it, but the
librdkafka it bundles exports it, so the helper calls it through ``ctypes``.

The helper runs in its own process so that a test's clients and the broker
share nothing but a TCP port, as in production. Run as a module (``python -m
jobdash.testing.kafka_cluster [brokers]``) it prints one line ``bootstrap
<host:port>`` and then serves commands, one per line on stdin, each answered
with ``ok`` or ``error <text>`` on stdout:

``down [broker]`` / ``up [broker]``
    The broker (default: all) closes its connections and refuses new ones on
    the same port / accepts them again (``rd_kafka_mock_broker_set_down/up``).
``advertise <host> <port> [broker]``
    Metadata advertises this address for the broker (default 1), so clients
    keep talking through a proxy in front of it.
``topic <name> <partitions>``
    Create a topic.
``quit``
    Destroy the cluster and exit. End of stdin does the same, so the helper
    never outlives a test process that dies.

See ``docs/decisions/0001-kafka-outage-testing.md`` for why.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import glob
import os
import subprocess
import sys
import threading
from pathlib import Path
from types import TracebackType

_READY_TIMEOUT_S = 20.0
_COMMAND_TIMEOUT_S = 20.0


class MockClusterError(RuntimeError):
    """The helper process failed to start or refused a command."""


class MockKafkaCluster:
    """Client side: starts the helper process and sends it commands.

    Parameters
    ----------
    num_brokers
        Brokers in the cluster; their ids are ``1..num_brokers``.

    Use as a context manager, or call :meth:`start` and :meth:`stop`; the
    process is always reaped (terminated, then killed) by :meth:`stop`.
    """

    def __init__(self, num_brokers: int = 1) -> None:
        self._num_brokers = num_brokers
        self._process: subprocess.Popen[str] | None = None
        self._bootstrap = ""
        self._lock = threading.Lock()

    @property
    def bootstrap_servers(self) -> str:
        """The brokers' loopback addresses (``127.0.0.1:port,...``)."""
        if not self._bootstrap:
            raise MockClusterError("mock cluster not started")
        return self._bootstrap

    @property
    def port(self) -> int:
        """Port of the first broker."""
        return int(self.bootstrap_servers.split(",")[0].rsplit(":", 1)[1])

    def start(self) -> MockKafkaCluster:
        self._process = subprocess.Popen(
            [sys.executable, "-m", __name__, str(self._num_brokers)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        )
        words = self._read_line(_READY_TIMEOUT_S).split()
        if len(words) != 2 or words[0] != "bootstrap":
            self.stop()
            raise MockClusterError(f"mock cluster did not start: {words!r}")
        self._bootstrap = words[1]
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        try:
            if process.stdin is not None:
                with contextlib.suppress(OSError):
                    process.stdin.write("quit\n")
                    process.stdin.flush()
                process.stdin.close()
            process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()
            process.wait(timeout=5)
        finally:
            if process.stdout is not None:
                process.stdout.close()

    def set_down(self, broker_id: int = -1) -> None:
        """Broker(s) drop their connections and refuse new ones, port kept."""
        self._command(f"down {broker_id}")

    def set_up(self, broker_id: int = -1) -> None:
        """Broker(s) accept connections again."""
        self._command(f"up {broker_id}")

    def advertise(self, host: str, port: int, broker_id: int = 1) -> None:
        """Make metadata advertise ``host:port`` for the broker (e.g. a proxy)."""
        self._command(f"advertise {host} {port} {broker_id}")

    def create_topic(self, name: str, partitions: int = 1) -> None:
        self._command(f"topic {name} {partitions}")

    def __enter__(self) -> MockKafkaCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _command(self, line: str) -> None:
        with self._lock:
            process = self._process
            if process is None or process.stdin is None:
                raise MockClusterError("mock cluster not started")
            process.stdin.write(line + "\n")
            process.stdin.flush()
            answer = self._read_line(_COMMAND_TIMEOUT_S)
        if answer != "ok":
            raise MockClusterError(f"{line!r}: {answer}")

    def _read_line(self, timeout: float) -> str:
        # A reader thread bounds the wait: a wedged helper fails the test
        # instead of hanging it.
        process = self._process
        assert process is not None
        assert process.stdout is not None
        stdout = process.stdout
        result: list[str] = []
        reader = threading.Thread(
            target=lambda: result.append(stdout.readline()),
            name="mock-kafka-reader",
            daemon=True,
        )
        reader.start()
        reader.join(timeout)
        if not result:
            process.kill()
            raise MockClusterError(f"mock cluster helper silent for {timeout} s")
        if not result[0]:
            raise MockClusterError(
                f"mock cluster helper exited with code {process.wait(timeout=5)}"
            )
        return result[0].strip()


# --- the helper process -----------------------------------------------------


def _librdkafka_path() -> str:
    """The librdkafka that confluent-kafka itself loaded (same build, same API)."""
    # Importing the extension maps its librdkafka into this process.
    import confluent_kafka.cimpl

    with contextlib.suppress(OSError), open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1]
            if "librdkafka" in os.path.basename(path):
                return path
    import confluent_kafka

    bundled = Path(confluent_kafka.__file__).parent.parent / "confluent_kafka.libs"
    found = sorted(glob.glob(str(bundled / "librdkafka*.so*")))
    system = ctypes.util.find_library("rdkafka")
    if found:
        return found[0]
    if system:
        return system
    raise MockClusterError("librdkafka not found")


def _load_api(path: str) -> ctypes.CDLL:
    lib = ctypes.CDLL(path)
    p, i32, c_int = ctypes.c_void_p, ctypes.c_int32, ctypes.c_int
    signatures: dict[str, tuple[list[type], type | None]] = {
        "rd_kafka_conf_new": ([], p),
        "rd_kafka_conf_set": (
            [p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t],
            c_int,
        ),
        "rd_kafka_new": ([c_int, p, ctypes.c_char_p, ctypes.c_size_t], p),
        "rd_kafka_destroy": ([p], None),
        "rd_kafka_mock_cluster_new": ([p, c_int], p),
        "rd_kafka_mock_cluster_destroy": ([p], None),
        "rd_kafka_mock_cluster_bootstraps": ([p], ctypes.c_char_p),
        "rd_kafka_mock_broker_set_down": ([p, i32], c_int),
        "rd_kafka_mock_broker_set_up": ([p, i32], c_int),
        "rd_kafka_mock_broker_set_host_port": ([p, i32, ctypes.c_char_p, c_int], None),
        "rd_kafka_mock_topic_create": ([p, ctypes.c_char_p, c_int, c_int], c_int),
        "rd_kafka_mock_group_initial_rebalance_delay_ms": ([p, i32], None),
        "rd_kafka_err2str": ([c_int], ctypes.c_char_p),
    }
    for name, (argtypes, restype) in signatures.items():
        function = getattr(lib, name)
        function.argtypes = argtypes
        function.restype = restype
    return lib


def _serve(num_brokers: int) -> int:
    lib = _load_api(_librdkafka_path())
    errstr = ctypes.create_string_buffer(512)
    conf = lib.rd_kafka_conf_new()
    # The handle only hosts the cluster; it never connects anywhere.
    lib.rd_kafka_conf_set(conf, b"log_level", b"3", errstr, len(errstr))
    rk = lib.rd_kafka_new(0, conf, errstr, len(errstr))  # 0: RD_KAFKA_PRODUCER
    if not rk:
        print(f"error rd_kafka_new: {errstr.value.decode()}", flush=True)
        return 1
    cluster = lib.rd_kafka_mock_cluster_new(rk, num_brokers)
    if not cluster:
        print("error rd_kafka_mock_cluster_new failed", flush=True)
        return 1
    # A real broker delays a new group's first rebalance by 3 s; tests
    # subscribe fresh groups all the time.
    lib.rd_kafka_mock_group_initial_rebalance_delay_ms(cluster, 0)
    bootstraps = lib.rd_kafka_mock_cluster_bootstraps(cluster).decode()
    print(f"bootstrap {bootstraps}", flush=True)

    def check(err: int) -> str:
        return "ok" if err == 0 else f"error {lib.rd_kafka_err2str(err).decode()}"

    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        command, args = words[0], words[1:]
        if command == "quit":
            break
        try:
            broker_id = int(args[0]) if command in ("down", "up") and args else -1
            if command == "down":
                answer = check(lib.rd_kafka_mock_broker_set_down(cluster, broker_id))
            elif command == "up":
                answer = check(lib.rd_kafka_mock_broker_set_up(cluster, broker_id))
            elif command == "advertise":
                host, port, broker = args
                lib.rd_kafka_mock_broker_set_host_port(
                    cluster, int(broker), host.encode(), int(port)
                )
                answer = "ok"
            elif command == "topic":
                name, partitions = args
                answer = check(
                    lib.rd_kafka_mock_topic_create(
                        cluster, name.encode(), int(partitions), 1
                    )
                )
            else:
                answer = f"error unknown command {command!r}"
        except (TypeError, ValueError) as exc:
            answer = f"error bad arguments for {command!r}: {exc}"
        print(answer, flush=True)
    lib.rd_kafka_mock_cluster_destroy(cluster)
    lib.rd_kafka_destroy(rk)
    return 0


if __name__ == "__main__":
    sys.exit(_serve(int(sys.argv[1]) if len(sys.argv) > 1 else 1))
