"""The rate limiter and the sign-in throttle on their own, on a fake clock (http/ratelimit.py)."""

from __future__ import annotations

import pytest

from headwater.config import Settings
from headwater.http.ratelimit import RateLimiter, SignInThrottle, address_key


def test_burst_then_the_rate() -> None:
    lim = RateLimiter(rate_per_second=10, burst=5)
    assert [lim.take("k", now=100.0) for _ in range(5)] == [0.0] * 5
    wait = lim.take("k", now=100.0)
    assert wait == pytest.approx(0.1)
    assert lim.take("k", now=100.05) == pytest.approx(0.05)  # a refusal takes nothing
    assert lim.take("k", now=100.1) == 0.0
    assert lim.take("k", now=100.1) > 0
    # sustained over 10 s: the burst (refilled meanwhile) and one per interval, never more
    allowed = sum(lim.take("k", now=101.0 + i * 0.01) == 0.0 for i in range(1000))
    assert allowed == 5 + 99


def test_cost_counts_units_and_a_cost_above_the_burst_is_owed() -> None:
    lim = RateLimiter(rate_per_second=100, burst=150)
    assert lim.take("k", cost=100, now=0.0) == 0.0
    assert lim.take("k", cost=100, now=0.0) == pytest.approx(0.5)  # 50 left, 50 more in 0.5 s
    assert lim.take("k", cost=100, now=0.5) == 0.0
    big = RateLimiter(rate_per_second=100, burst=50)
    assert big.take("k", cost=200, now=0.0) == 0.0  # a full bucket lets a big batch through...
    # ...and the debt is paid after: 150 owed, then one unit
    assert big.take("k", cost=1, now=0.0) == pytest.approx(1.51)
    assert big.take("k", cost=1, now=1.51) == 0.0


def test_keys_are_independent_and_the_default_clock_is_monotonic() -> None:
    lim = RateLimiter(rate_per_second=1, burst=1)
    assert lim.take("a") == 0.0
    assert 0.9 < lim.take("a") <= 1.0
    assert lim.take("b") == 0.0
    assert lim.wait("c") == 0.0 and len(lim) == 2


def test_the_table_stays_bounded() -> None:
    lim = RateLimiter(rate_per_second=1, burst=1, max_keys=1000)
    lim.take("victim", now=0.0)
    for i in range(50_000):
        lim.take(f"10.0.{i // 256}.{i % 256}", now=0.0)
        assert len(lim) <= 1000
    assert len(lim) >= 900


def test_recently_used_keys_survive_eviction() -> None:
    lim = RateLimiter(rate_per_second=1, burst=1, max_keys=100)
    for i in range(100):
        lim.take(f"k{i}", now=0.0)
    lim.take("k0", now=0.0)  # refused, but touched: now the most recent
    lim.take("new", now=0.0)  # over the bound: the oldest tenth goes
    assert lim.wait("k0", now=0.0) > 0 and lim.wait("k1", now=0.0) == 0.0


def test_bad_parameters_are_refused() -> None:
    for args in ((0, 1), (-1, 1), (1, 0)):
        with pytest.raises(ValueError):
            RateLimiter(*args)


def test_address_key() -> None:
    assert address_key("203.0.113.9") == "203.0.113.9"
    assert address_key("2001:db8:1:2:3:4:5:6") == address_key("2001:db8:1:2:ffff::1") == "2001:db8:1:2::/64"
    assert address_key("::ffff:203.0.113.9") == "203.0.113.9"
    assert address_key("fe80::1%eth0") == "fe80::/64"
    assert address_key("not:an address") == "not:an address"


def test_signin_throttle_five_failures_then_refused() -> None:
    t = SignInThrottle(failures_per_minute=5)
    for _ in range(5):
        assert t.retry_after("198.51.100.7", now=0.0) == 0.0
        t.failed("198.51.100.7", now=0.0)
    wait = t.retry_after("198.51.100.7", now=0.0)
    assert wait == pytest.approx(12.0)
    assert t.retry_after("198.51.100.7", now=6.0) == pytest.approx(6.0)
    assert t.retry_after("198.51.100.7", now=12.0) == 0.0  # one more try every 12 s
    t.failed("198.51.100.7", now=12.0)
    assert t.retry_after("198.51.100.7", now=12.0) == pytest.approx(12.0)
    # at most 5 a minute sustained, for an address that tries as soon as it may
    tries, now = 0, 100.0
    while now < 700.0:
        if t.retry_after("198.51.100.7", now=now) == 0.0:
            t.failed("198.51.100.7", now=now)
            tries += 1
        now += 0.5
    assert tries <= 5 + 50 + 1


def test_signin_success_clears_and_other_addresses_are_unaffected() -> None:
    t = SignInThrottle(failures_per_minute=5)
    for _ in range(5):
        t.failed("198.51.100.7", now=0.0)
    assert t.retry_after("198.51.100.7", now=0.0) > 0
    assert t.retry_after("198.51.100.8", now=0.0) == 0.0
    assert t.retry_after(None, now=0.0) == 0.0
    t.succeeded("198.51.100.7")
    assert t.retry_after("198.51.100.7", now=0.0) == 0.0
    # an IPv6 client counts by its /64: another address in it is the same client
    for _ in range(5):
        t.failed("2001:db8::1", now=0.0)
    assert t.retry_after("2001:db8::2", now=0.0) > 0
    assert t.retry_after("2001:db8:0:1::1", now=0.0) == 0.0


def test_signin_throttle_table_stays_bounded() -> None:
    t = SignInThrottle(failures_per_minute=5, max_keys=500)
    for i in range(20_000):
        t.failed(f"10.1.{i // 256}.{i % 256}", now=0.0)
    assert len(t.limiter) <= 500


def test_signin_throttle_from_settings() -> None:
    t = SignInThrottle.of(Settings(signin_failures_per_minute=2))
    t.failed("a", now=0.0)
    t.failed("a", now=0.0)
    assert t.retry_after("a", now=0.0) == pytest.approx(30.0)
    assert Settings().signin_failures_per_minute == 5
