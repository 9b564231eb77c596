"""Throttles: counted in the shared cache (database or Redis), at most one increment per request.

Fixed windows: a request counts against the bucket of the current window (`<ident>:<window
number>`), one `incr` on the cache (an atomic INCR on Redis); the first request of a window
creates the key with the window's length as expiry. Cheaper than DRF's history list (a pickled
list read and written whole on every request), at the price of allowing up to twice the rate
across a window boundary, which is what a fixed window means.

- `CallerRateThrottle` (`API_THROTTLE_RATE`): one bucket per API key, end-user token subject or
  person; anonymous requests by client IP. Far from the limit a process counts its requests
  itself and adds them to the shared bucket in chunks of 1/`LOCAL_CHUNK_DIVISOR` of the limit
  (one `incr` per chunk instead of one per request); within a chunk of the limit it adds every
  request. So a process alone is exact, and with N processes the bucket may admit up to
  (N - 1) × chunk requests more than the limit in a window (1% of it per other process): a rate
  limit of capacity, not an allowance. The chunk is 1 for limits under 100, i.e. exact.
- Failed authentication (`AUTH_FAILURE_RATE`, default 60/min per client IP): every refused
  credential counts; past the limit the answer is 429 `throttled` with Retry-After, and the
  credential is no longer even looked up.
"""

import hashlib
import re
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.exceptions import Throttled
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from core.api.caller import CallerLike

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PLAIN_ADDRESS = re.compile(r"^[0-9A-Fa-f:.]{1,45}$")


def client_address(request) -> str:
    """The client IP (`NUM_PROXIES` trusted proxies' X-Forwarded-For), fit for a cache key
    whatever a header carried."""
    address = BaseThrottle().get_ident(request) or "unknown"
    if _PLAIN_ADDRESS.match(address):
        return address
    return hashlib.sha256(address.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def parse_rate(rate: str) -> tuple[int, int]:
    """'60/min' → (60, 60): requests allowed per window, window length in seconds."""
    count, _, period = rate.partition("/")
    return int(count), _PERIODS[period.strip()[0]]


def _window(duration: int) -> tuple[int, float]:
    now = time.time()
    number = int(now // duration)
    return number, (number + 1) * duration - now


LOCAL_CHUNK_DIVISOR = 100
_LOCAL_MAX_BUCKETS = 10_000
# Per process: bucket name → [window number, hits seen in the shared bucket, hits not added yet].
_local_buckets: dict[str, list[int]] = {}


def _hit_in_chunks(name: str, number: int, limit: int, duration: int) -> int:
    """Count one request in the window `number` of bucket `name`; return the count as this process
    knows it (exact within a chunk of the limit; see the module docstring)."""
    chunk = max(1, limit // LOCAL_CHUNK_DIVISOR)
    bucket = _local_buckets.get(name)
    if bucket is None or bucket[0] != number:
        if len(_local_buckets) >= _LOCAL_MAX_BUCKETS:
            _local_buckets.clear()
        bucket = _local_buckets[name] = [number, 0, 0]
    bucket[2] += 1
    if bucket[2] < chunk and bucket[1] + bucket[2] <= limit - chunk:
        return bucket[1] + bucket[2]
    bucket[1], bucket[2] = _hit(f"{name}:{number}", duration, count=bucket[2]), 0
    return bucket[1]


def _hit(key: str, duration: int, *, count: int = 1) -> int:
    """Count `count` requests in `key` and return the total (one cache operation when the key exists)."""
    try:
        return cache.incr(key, count)
    except ValueError:  # the window's first request
        if cache.add(key, count, timeout=duration + 1):
            return count
        return cache.incr(key, count)


class FixedWindowThrottle(BaseThrottle):
    scope = ""

    def get_rate(self) -> str | None:
        # Read at request time (not import time), so the rate follows the settings.
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        return str(rate) if rate else None

    def get_ident_key(self, request) -> str:
        return client_address(request)

    def allow_request(self, request, view) -> bool:
        rate = self.get_rate()
        if not rate:
            return True
        limit, duration = parse_rate(rate)
        number, self._remaining = _window(duration)
        return _hit_in_chunks(f"throttle:{self.scope}:{self.get_ident_key(request)}", number, limit, duration) <= limit

    def wait(self) -> float:
        return max(1.0, self._remaining)


class CallerRateThrottle(FixedWindowThrottle):
    """One bucket per API key, per end-user token subject, or per person (JWT/session)."""

    scope = "caller"

    def get_ident_key(self, request) -> str:
        caller: CallerLike | None = request.auth  # None for anonymous requests
        return f"ip:{client_address(request)}" if caller is None else caller.throttle_key


def _auth_failure_bucket(request) -> tuple[str, int, int, float]:
    limit, duration = parse_rate(settings.AUTH_FAILURE_RATE)
    number, remaining = _window(duration)
    return f"throttle:auth_failure:{client_address(request)}:{number}", limit, duration, remaining


def auth_failures_check(request) -> None:
    """Raise Throttled when this client IP already failed too often in the current window.
    Call before any lookup a credential would cost (database, password hash)."""
    key, limit, _, remaining = _auth_failure_bucket(request)
    if (cache.get(key) or 0) >= limit:
        raise Throttled(wait=max(1, int(remaining) + 1))


def auth_failure_record(request) -> None:
    """Count one refused credential from this client IP; raise Throttled once past the limit."""
    key, limit, duration, remaining = _auth_failure_bucket(request)
    if _hit(key, duration) > limit:
        raise Throttled(wait=max(1, int(remaining) + 1))
