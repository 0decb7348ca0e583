"""A loopback TCP proxy that tests can cut and restore, stdlib only.

It stands between a client and a server to simulate a network failure:
:meth:`TcpProxy.cut` closes every proxied connection and stops listening, so
new connections are refused; :meth:`TcpProxy.restore` listens again on the
same port. The server never notices anything but its clients going away.

Kafka note: a Kafka client only uses the bootstrap address for its first
metadata request and then connects to the addresses brokers *advertise*. To
keep a Kafka client behind the proxy, make the broker advertise the proxy's
address (``MockKafkaCluster.advertise``).

Threads, not asyncio: one accept thread and two pump threads per connection
is plenty for a handful of test connections and keeps the code obvious.
Waking a thread blocked in ``accept``/``recv`` relies on ``shutdown()``
interrupting it, which holds on Linux.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType

_CONNECT_TIMEOUT_S = 5.0
_JOIN_TIMEOUT_S = 5.0


class _Pipe:
    """One proxied connection: the client's socket and the upstream one."""

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        self._lock = threading.Lock()
        self._closed = False
        self.threads: list[threading.Thread] = []

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


class TcpProxy:
    """Forward ``127.0.0.1:<port>`` to ``upstream``.

    Parameters
    ----------
    upstream
        ``(host, port)`` of the server.
    port
        Port to listen on; 0 lets the kernel choose (see :attr:`port`).
    """

    def __init__(self, upstream: tuple[str, int], *, port: int = 0) -> None:
        self._upstream = upstream
        self._host = "127.0.0.1"
        self._port = port
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self._pipes: set[_Pipe] = set()
        self._accepted = 0

    @property
    def port(self) -> int:
        return self._port

    @property
    def address(self) -> str:
        """``host:port`` to give clients."""
        return f"{self._host}:{self._port}"

    @property
    def accepted(self) -> int:
        """Connections accepted so far (lets tests see clients reconnect)."""
        with self._lock:
            return self._accepted

    @property
    def active(self) -> int:
        """Connections currently proxied."""
        with self._lock:
            return len(self._pipes)

    @property
    def is_cut(self) -> bool:
        with self._lock:
            return self._listener is None

    def start(self) -> TcpProxy:
        """Start listening (again, on the same port after a :meth:`cut`)."""
        with self._lock:
            if self._listener is not None:
                return self
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                listener.bind((self._host, self._port))
                listener.listen(16)
            except OSError:
                listener.close()
                raise
            self._port = listener.getsockname()[1]
            self._listener = listener
            self._acceptor = threading.Thread(
                target=self._accept_loop,
                args=(listener,),
                name=f"tcp-proxy-accept-{self._port}",
                daemon=True,
            )
            self._acceptor.start()
        return self

    def cut(self) -> None:
        """Drop every connection and refuse new ones until :meth:`restore`.

        Returns once every proxied socket is closed.
        """
        with self._lock:
            listener, self._listener = self._listener, None
            acceptor, self._acceptor = self._acceptor, None
            pipes = list(self._pipes)
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        if acceptor is not None:
            acceptor.join(_JOIN_TIMEOUT_S)
        for pipe in pipes:
            pipe.close()
        for pipe in pipes:
            for thread in pipe.threads:
                thread.join(_JOIN_TIMEOUT_S)

    def restore(self) -> None:
        """Accept connections again, on the same port."""
        self.start()

    def stop(self) -> None:
        self.cut()

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _accept_loop(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut(): the listener was shut down
            try:
                upstream = socket.create_connection(
                    self._upstream, timeout=_CONNECT_TIMEOUT_S
                )
            except OSError:
                client.close()  # the server is down: so is the proxied one
                continue
            upstream.settimeout(None)
            pipe = _Pipe(client, upstream)
            with self._lock:
                if self._listener is not listener:
                    # cut() ran while we were connecting upstream.
                    pipe.close()
                    return
                self._accepted += 1
                self._pipes.add(pipe)
                pipe.threads = [
                    threading.Thread(
                        target=self._pump,
                        args=(pipe, source, target),
                        name=f"tcp-proxy-pump-{self._port}",
                        daemon=True,
                    )
                    for source, target in ((client, upstream), (upstream, client))
                ]
            for thread in pipe.threads:
                thread.start()

    def _pump(self, pipe: _Pipe, source: socket.socket, target: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                target.sendall(data)
        except OSError:
            pass
        finally:
            # Either direction ending ends the connection: Kafka never
            # half-closes, and a half-open pipe would hide a cut.
            pipe.close()
            with self._lock:
                self._pipes.discard(pipe)
