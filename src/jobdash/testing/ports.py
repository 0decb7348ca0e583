"""Loopback ports for servers that tests and benchmarks start."""

from __future__ import annotations

import socket

__all__ = ["LOOPBACK", "free_port", "is_listening"]

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port nothing listens on now (the kernel's choice for port 0).

    The port is free when this returns; a server told to use it binds it a
    moment later (another process could take it in between, which on a test
    machine does not happen in practice).
    """
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def is_listening(port: int, host: str = LOOPBACK, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
