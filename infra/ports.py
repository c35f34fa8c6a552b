"""Free loopback ports for clusters that tests and benchmarks start, away from the dev cluster."""

from __future__ import annotations

import random
import socket


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_base(brokers: int) -> int:
    """A base port whose broker (base+i) and controller (base+100+i) ports are all free."""
    for _ in range(200):
        base = random.randrange(20_000, 40_000)
        ports = [base + i for i in range(brokers)] + [base + 100 + i for i in range(brokers)]
        if all(_free(p) for p in ports):
            return base
    raise RuntimeError("no free loopback ports between 20000 and 40100")
