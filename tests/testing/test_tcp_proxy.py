"""The test-only TCP proxy really forwards, cuts and restores."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
from collections.abc import Iterator

import pytest

from jobdash.testing.tcp_proxy import TcpProxy
from jobdash.testing.waiting import wait_until


class _EchoHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data)


class _EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture
def echo_server() -> Iterator[tuple[str, int]]:
    server = _EchoServer(("127.0.0.1", 0), _EchoHandler)
    thread = threading.Thread(
        target=server.serve_forever, args=(0.02,), name="echo-server"
    )
    thread.start()
    try:
        yield server.server_address[0], server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def proxy(echo_server: tuple[str, int]) -> Iterator[TcpProxy]:
    with TcpProxy(echo_server) as running:
        yield running


def _connect(proxy: TcpProxy) -> socket.socket:
    return socket.create_connection(("127.0.0.1", proxy.port), timeout=5)


def _roundtrip(sock: socket.socket, payload: bytes) -> bytes:
    sock.sendall(payload)
    received = b""
    while len(received) < len(payload):
        chunk = sock.recv(65536)
        if not chunk:
            break
        received += chunk
    return received


def test_bytes_pass_through_unchanged_in_both_directions(proxy: TcpProxy) -> None:
    payload = bytes(range(256)) * 1000
    with _connect(proxy) as sock:
        assert _roundtrip(sock, payload) == payload
    assert proxy.accepted == 1


def test_cut_closes_open_connections_and_refuses_new_ones(proxy: TcpProxy) -> None:
    with _connect(proxy) as sock:
        assert _roundtrip(sock, b"before") == b"before"
        proxy.cut()
        assert proxy.is_cut
        assert proxy.active == 0
        # The peer is gone: the next read sees end of stream or a reset.
        with contextlib.suppress(ConnectionResetError):
            sock.sendall(b"after")
            assert sock.recv(16) == b""
    with pytest.raises(ConnectionRefusedError):
        _connect(proxy).close()


def test_restore_listens_again_on_the_same_port(proxy: TcpProxy) -> None:
    port = proxy.port
    proxy.cut()
    proxy.restore()
    assert proxy.port == port
    assert not proxy.is_cut
    with _connect(proxy) as sock:
        assert _roundtrip(sock, b"again") == b"again"


def test_a_client_closing_its_side_releases_the_upstream_connection(
    proxy: TcpProxy,
) -> None:
    with _connect(proxy) as sock:
        assert _roundtrip(sock, b"x") == b"x"
    # Closing is asynchronous on the proxy side.
    wait_until(lambda: proxy.active == 0, message="the proxied pipe to close")


def test_an_unreachable_upstream_closes_the_client_connection() -> None:
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        dead_port = placeholder.getsockname()[1]  # bound, never listening
        with TcpProxy(("127.0.0.1", dead_port)) as proxy, _connect(proxy) as sock:
            assert sock.recv(16) == b""
            assert proxy.accepted == 0
