"""Event ids: `evt_` and 32 hex digits, unique and unguessable (80 random bits), and ordered by
the millisecond they were made in, so the unique index on them is appended to at its right edge."""

import re

from events import models as event_models
from events.models import event_public_id

EVENT_ID = re.compile(r"^evt_[0-9a-f]{32}$")


def test_an_event_id_keeps_its_format_and_leads_with_the_millisecond_it_was_made_in(monkeypatch):
    # given: the clock at 2026-11-22T04:00:00.123Z
    milliseconds = 1_795_320_000_123
    monkeypatch.setattr(event_models.time, "time_ns", lambda: milliseconds * 1_000_000 + 456_789)
    # when
    public_id = event_public_id()
    # then
    assert EVENT_ID.match(public_id), public_id
    assert len(public_id) == 36
    assert int(public_id[4:16], 16) == milliseconds


def test_later_event_ids_sort_after_earlier_ones_across_milliseconds(monkeypatch):
    # given: ids made one per millisecond, 1,000 times, the random part each time drawn afresh
    clock = iter(range(1_795_320_000_000, 1_795_320_001_000))
    monkeypatch.setattr(event_models.time, "time_ns", lambda: next(clock) * 1_000_000)
    # when
    made = [event_public_id() for _ in range(1_000)]
    # then: in the order they were made, as text (how the database compares them too)
    assert made == sorted(made)


def test_event_ids_made_in_the_same_millisecond_are_still_unique(monkeypatch):
    monkeypatch.setattr(event_models.time, "time_ns", lambda: 1_795_320_000_000 * 1_000_000)
    made = {event_public_id() for _ in range(10_000)}
    assert len(made) == 10_000
    # 80 random bits after the 12 timestamp digits: ids made together share nothing else
    assert len({public_id[16:] for public_id in made}) == 10_000


def test_the_current_clock_gives_increasing_ids():
    first = event_public_id()
    while (second := event_public_id())[4:16] == first[4:16]:
        pass
    assert second > first
