"""In-process rate limits: collection quotas (http/collect.py) and the sign-in throttle.

:class:`RateLimiter` is GCRA (the generic cell rate algorithm, a token bucket stored as one float per
key: the "theoretical arrival time"), keyed by string, on monotonic time. Its table is bounded
(``max_keys``, 100,000 by default): past it the least recently used tenth is dropped, so a client
rotating addresses cannot grow memory without bound (a dropped key starts again with a full
bucket; the cost of one drop is amortized over the 10,000 inserts before the next).

Why not a library: ``pyrate-limiter`` (in the lock only as a test dependency of schemathesis) and
``limits`` are built around pluggable, often shared, backends (Redis, SQL), with locks and several
calls per check; the collector needs one dict lookup and a few float operations per request, no
runtime dependency, and a bounded table, which neither bounds. This is about 60 lines.

State lives in each worker process: with ``serve --workers N`` a client that spreads its requests
over the workers gets up to N times each budget. No lock: each worker's event loop calls this from
one thread.

**Sign-in throttle** (for the dashboard's login form, http/dashboard.py)::

    throttle = SignInThrottle.of(settings)        # once per worker, e.g. on app.state
    wait = throttle.retry_after(address)          # before checking the token
    if wait > 0:
        answer 429 with Retry-After: math.ceil(wait), and do not check the token
    elif token is right:
        throttle.succeeded(address)               # forgets the address's failures
    else:
        throttle.failed(address)                  # counts one failure

``address`` is the client's, from :class:`headwater.http.clientip.ClientIpResolver` (passed through
:func:`address_key`, so an IPv6 client counts by its /64). With the default
``signin_failures_per_minute = 5``: 5 failures in a row are free, then one more every 12 s.
"""

from __future__ import annotations

import socket
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from headwater.config import Settings

#: keys a limiter keeps at most by default (about 15 MB for IPv6 addresses)
MAX_KEYS = 100_000
_V4_MAPPED = bytes(10) + b"\xff\xff"
_ZERO64 = bytes(8)


def address_key(ip: str) -> str:
    """The key an address counts under: an IPv4 address as it is, an IPv6 address by its /64
    (what one subscriber usually gets), an IPv4-mapped IPv6 address as its IPv4 address."""
    if ":" not in ip:
        return ip
    try:  # inet_pton: some 30 times faster than the ipaddress module
        packed = socket.inet_pton(socket.AF_INET6, ip.partition("%")[0])
    except OSError:
        return ip
    if packed[:12] == _V4_MAPPED:
        return socket.inet_ntop(socket.AF_INET, packed[12:])
    return socket.inet_ntop(socket.AF_INET6, packed[:8] + _ZERO64) + "/64"


class RateLimiter:
    """``rate_per_second`` units per second per key, up to ``burst`` at once (GCRA)."""

    __slots__ = ("_tat", "burst", "interval", "max_keys", "rate", "window")

    def __init__(self, rate_per_second: float, burst: int, max_keys: int = MAX_KEYS) -> None:
        if rate_per_second <= 0 or burst < 1 or max_keys < 1:
            raise ValueError("rate_per_second must be > 0, burst and max_keys >= 1")
        self.rate = rate_per_second
        self.burst = burst
        self.max_keys = max_keys
        self.interval = 1.0 / rate_per_second  # seconds one unit takes to come back
        self.window = self.interval * burst  # a full bucket, in seconds
        self._tat: dict[str, float] = {}  # key -> theoretical arrival time, least recently used first

    def __len__(self) -> int:
        return len(self._tat)

    def take(self, key: str, cost: int = 1, now: float | None = None) -> float:
        """Take ``cost`` units for ``key``: 0.0 when allowed (and taken), else the seconds to wait
        before the same request would be allowed (nothing taken). A cost above the burst is allowed
        when the bucket is full and then owed, so a big batch is not refused forever."""
        if now is None:
            now = time.monotonic()
        tat = self._tat.pop(key, now)
        if tat < now:
            tat = now
        wait = tat - now - self.window + self.interval * (cost if cost < self.burst else self.burst)
        if wait > 1e-9:
            self._tat[key] = tat  # refused: the state is unchanged, only its age is refreshed
            return wait
        self._tat[key] = tat + self.interval * cost
        if len(self._tat) > self.max_keys:
            self._evict()
        return 0.0

    def wait(self, key: str, cost: int = 1, now: float | None = None) -> float:
        """What :meth:`take` would answer, taking nothing."""
        tat = self._tat.get(key)
        if tat is None:
            return 0.0
        if now is None:
            now = time.monotonic()
        wait = max(tat, now) - now - self.window + self.interval * min(cost, self.burst)
        return wait if wait > 1e-9 else 0.0

    def forget(self, key: str) -> None:
        self._tat.pop(key, None)

    def _evict(self) -> None:
        drop = len(self._tat) - self.max_keys + max(1, self.max_keys // 10)
        for key in list(self._tat)[:drop]:  # dicts keep insertion order: least recently used first
            del self._tat[key]


class SignInThrottle:
    """Failed sign-ins per client address (module docstring): ``failures_per_minute`` failures
    in a row are allowed, then one more every ``60 / failures_per_minute`` seconds. Per worker."""

    def __init__(self, failures_per_minute: int = 5, max_keys: int = MAX_KEYS) -> None:
        self.limiter = RateLimiter(failures_per_minute / 60.0, failures_per_minute, max_keys)

    @classmethod
    def of(cls, settings: Settings) -> SignInThrottle:
        return cls(settings.signin_failures_per_minute)

    def retry_after(self, address: str | None, now: float | None = None) -> float:
        """Seconds before ``address`` may try again (0.0: now). ``None`` (no address) counts as one."""
        return self.limiter.wait(address_key(address or "-"), 1, now)

    def failed(self, address: str | None, now: float | None = None) -> None:
        """Count a failed sign-in from ``address``."""
        self.limiter.take(address_key(address or "-"), 1, now)  # already refused: nothing more

    def succeeded(self, address: str | None) -> None:
        """A right token: forget the address's failures."""
        self.limiter.forget(address_key(address or "-"))
