"""IP address policy: keep, truncate (IPv4 /24, IPv6 /48) or drop."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Literal

IpPolicy = Literal["keep", "truncate", "drop"]


@lru_cache(maxsize=65536)
def apply_ip_policy(ip: str, policy: IpPolicy) -> str | None:
    """The address to store under the policy; None for drop or for a string that is no address."""
    if policy == "drop":
        return None
    addr = _parse(ip)
    if addr is None:
        return None
    if policy == "keep":
        return str(addr)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    prefix = 24 if addr.version == 4 else 48
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False).network_address)


@lru_cache(maxsize=4096)
def bare_address(ip: str) -> str | None:
    """``ip`` as a plain address (blanks and ``[v6]:port`` brackets removed, an IPv4-mapped IPv6
    address as IPv4), or None for a string that is no address: what a geo database looks up."""
    addr = _parse(ip)
    if addr is None:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return str(addr)


def _parse(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = ip.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None
