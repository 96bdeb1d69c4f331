"""Hosts on one machine, each in its own network namespace (docs/scale-out.md, "Tests"): a bridge
in the root namespace holds the services' address, and each host reaches it through a veth pair,
as separate machines on one network would. Needs root and `ip` (iproute2); where namespaces are
not allowed, the test fails saying so (it never skips)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest


def _ip(*args: str) -> None:
    out = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {out.stderr.strip()}")


@dataclass
class Network:
    """A bridge with the services' address (``gateway``) and one namespace per host."""

    tag: str
    subnet: str  # "10.A.B"
    hosts: list[str] = field(default_factory=list)

    @property
    def gateway(self) -> str:
        return f"{self.subnet}.1"

    def address(self, i: int) -> str:
        return f"{self.subnet}.{10 + i}"

    def namespace(self, i: int) -> str:
        return f"hw{self.tag}h{i}"

    def exec_prefix(self, i: int) -> list[str]:
        return ["ip", "netns", "exec", self.namespace(i)]


@contextmanager
def network(n: int) -> Iterator[Network]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.fail(
            "the multi-host test needs root and iproute2 (network namespaces): run it as root,"
            " with `apt-get install iproute2`"
        )
    tag = f"{os.getpid() % 10000:04d}"
    net = Network(tag, f"10.{200 + os.getpid() % 50}.{os.getpid() // 50 % 250}")
    bridge = f"hwbr{tag}"
    made: list[str] = []
    try:
        _ip("link", "add", bridge, "type", "bridge")
        made.append(bridge)
        _ip("addr", "add", f"{net.gateway}/24", "dev", bridge)
        _ip("link", "set", bridge, "up")
        for i in range(n):
            ns, veth = net.namespace(i), f"hw{tag}v{i}"
            _ip("netns", "add", ns)
            net.hosts.append(ns)
            _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
            made.append(veth)
            _ip("link", "set", veth, "master", bridge)
            _ip("link", "set", veth, "up")
            _ip("-n", ns, "addr", "add", f"{net.address(i)}/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
            _ip("-n", ns, "link", "set", "lo", "up")
        yield net
    finally:
        for ns in net.hosts:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)
        for link in reversed(made):
            subprocess.run(["ip", "link", "del", link], capture_output=True, timeout=30)
