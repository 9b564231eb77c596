"""The SQL functions that write a value the way the Python renderers do (migration 0012): the
one-statement movement fills its stored reply and its event with them, so each must write
exactly what the renderer would, for every value a balance or a timestamp can take."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.money import MAX_MINOR_UNITS, from_minor_units
from ledger.services.posting_request import _Sentinels


def _sql(statement: str, parameters: list) -> list:
    with connection.cursor() as cursor:
        cursor.execute(statement, parameters)
        return [row[0] for row in cursor.fetchall()]


def test_minor_units_are_written_as_from_minor_units_writes_them(requires_postgres):
    minors = [0, 1, -1, 9, 10, 99, 100, 101, -100, 12345, -12345, 10**18, -(10**18), MAX_MINOR_UNITS, -MAX_MINOR_UNITS]
    for scale in (0, 1, 2, 3, 6, 8, 18):
        written = _sql(
            "SELECT ledger_text_minor_units(minor, %s) FROM unnest(%s::bigint[]) WITH ORDINALITY AS m(minor, position)"
            " ORDER BY position",
            [scale, minors],
        )
        assert written == [from_minor_units(minor, scale=scale) for minor in minors], scale


@pytest.mark.django_db
@settings(max_examples=200, deadline=None)
@given(minor=st.integers(min_value=-MAX_MINOR_UNITS, max_value=MAX_MINOR_UNITS), scale=st.integers(0, 18))
def test_any_balance_is_written_as_the_renderer_writes_it(minor, scale):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    assert _sql("SELECT ledger_text_minor_units(%s, %s)", [minor, scale]) == [from_minor_units(minor, scale=scale)]


def test_timestamps_are_written_as_transactions_render_created_at(requires_postgres):
    base = datetime(2026, 11, 22, 6, 29, 38, tzinfo=UTC)
    moments = [base, base + timedelta(microseconds=1), base + timedelta(microseconds=999_999),
               base + timedelta(microseconds=120_000), datetime(2100, 1, 1, tzinfo=UTC),
               datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)]
    for moment in moments:
        rendered = moment.astimezone(UTC).isoformat()
        rendered = rendered[:-6] + "Z"
        assert _sql("SELECT ledger_text_timestamp(%s)", [moment]) == [rendered]


def test_a_template_is_filled_sentinel_by_sentinel_and_nothing_else_changes(requires_postgres):
    template = '{"id":700,"note":"70 0 x700y","at":"T"}'
    assert _sql("SELECT ledger_template_fill(%s, %s::text[], %s::text[])", [template, ["700", "T"], ["5", "now"]]) == [
        '{"id":5,"note":"70 0 x5y","at":"now"}'
    ]


def test_sentinels_are_never_contained_in_one_another():
    class Account:
        def __init__(self, scale):
            self.currency = type("Currency", (), {"scale": scale})()

    class Leg:
        def __init__(self, scale):
            self.account = Account(scale)

    for scales in ([2, 2], [8, 2, 18, 0], [0] * 6, [3, 4, 5]):
        sentinels = _Sentinels.drawn([Leg(scale) for scale in scales])
        texts = sentinels.texts
        assert len(set(texts)) == len(texts)
        assert not any(one != other and one in other for one in texts for other in texts)


def test_a_rendering_that_writes_a_sentinel_another_way_is_refused():
    from django.core.exceptions import ImproperlyConfigured

    class Leg:
        account = type("Account", (), {"currency": type("Currency", (), {"scale": 2})()})()

    sentinels = _Sentinels.drawn([Leg(), Leg()])
    texts = sentinels.texts
    sentinels.check(f'{{"id":{texts[0]},"created_at":"{texts[1]}","balance":"{texts[-1]}"}}')
    with pytest.raises(ImproperlyConfigured):
        sentinels.check(f'{{"id":{sentinels.entry_id + 1}}}')  # a value computed from the stand-in's id
    with pytest.raises(ImproperlyConfigured):
        sentinels.check(f'{{"created_at":"{sentinels.moment.strftime("%Y-%m-%d %H:%M")}"}}')
