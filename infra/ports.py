"""Loopback ports: is one free, who holds it, and free ones for scratch clusters."""

from __future__ import annotations

import random
import socket

import psutil

from infra.errors import InfraError


def port_free(port: int) -> bool:
    """Whether a server could listen on 127.0.0.1:``port`` now (TIME_WAIT does not count)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def port_owner(port: int) -> str:
    """`` by pid N (name)`` for the process listening on ``port``, when it can be seen."""
    try:
        for conn in psutil.net_connections("tcp"):
            if conn.laddr and conn.laddr.port == port and conn.status == "LISTEN" and conn.pid:
                return f" by pid {conn.pid} ({psutil.Process(conn.pid).name()})"
    except (psutil.AccessDenied, psutil.NoSuchProcess):
        pass
    return ""


def ensure_port_free(port: int, next_step: str) -> None:
    if not port_free(port):
        raise InfraError(f"port {port} on 127.0.0.1 is taken{port_owner(port)}", next_step)


def free_port_base(brokers: int) -> int:
    """A base port whose broker (base+i) and controller (base+100+i) ports are all free."""
    for _ in range(200):
        base = random.randrange(20_000, 40_000)
        ports = [base + i for i in range(brokers)] + [base + 100 + i for i in range(brokers)]
        if all(port_free(p) for p in ports):
            return base
    raise RuntimeError("no free loopback ports between 20000 and 40100")
