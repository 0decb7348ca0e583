"""``free_port`` gives a port a server can bind; ``is_listening`` sees it."""

from __future__ import annotations

import socket

from jobdash.testing.ports import LOOPBACK, free_port, is_listening


def test_a_free_port_can_be_listened_on_and_is_seen_listening() -> None:
    port = free_port()
    assert not is_listening(port)
    with socket.socket() as server:
        server.bind((LOOPBACK, port))
        server.listen()
        assert is_listening(port)
    assert not is_listening(port)
