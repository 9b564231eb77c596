"""The caller throttle's chunked counting: exact for one process, one shared-cache increment per
chunk far from the limit, and at most a chunk over the limit per other process."""

import pytest
from django.core.cache import cache
from django.test import override_settings

from core.api import throttling

LOCAL_CACHE = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "throttle-chunks"}}


@pytest.fixture(autouse=True)
def fresh_buckets(monkeypatch):
    monkeypatch.setattr(throttling, "_local_buckets", {})
    with override_settings(CACHES=LOCAL_CACHE):
        cache.clear()
        yield


def _hits(count: int, *, limit: int) -> list[int]:
    return [throttling._hit_in_chunks("throttle:caller:k", 7, limit, 60) for _ in range(count)]


def test_far_from_the_limit_a_process_adds_its_requests_to_the_shared_bucket_in_chunks():
    # limit 10,000: chunks of 100
    assert _hits(250, limit=10_000) == list(range(1, 251))  # what the process knows is exact
    assert cache.get("throttle:caller:k:7") == 200  # two increments, not 250


def test_within_a_chunk_of_the_limit_every_request_is_added_so_one_process_is_exact():
    # limit 1,000: chunks of 10, every request from 990 on
    counts = _hits(1_001, limit=1_000)
    assert counts == list(range(1, 1_002))
    assert [count > 1_000 for count in counts].index(True) == 1_000  # the 1,001st is refused
    assert cache.get("throttle:caller:k:7") == 1_001


def test_small_limits_are_counted_request_by_request():
    assert _hits(5, limit=60) == [1, 2, 3, 4, 5]
    assert cache.get("throttle:caller:k:7") == 5


def test_two_processes_admit_at_most_one_chunk_over_the_limit(monkeypatch):
    processes = [{}, {}]
    admitted = 0
    for turn in range(3_000):
        monkeypatch.setattr(throttling, "_local_buckets", processes[turn % 2])
        admitted += throttling._hit_in_chunks("throttle:caller:k", 7, 1_000, 60) <= 1_000
    assert 1_000 <= admitted <= 1_000 + 10


def test_a_new_window_starts_from_zero():
    _hits(30, limit=60)
    assert throttling._hit_in_chunks("throttle:caller:k", 8, 60, 60) == 1
