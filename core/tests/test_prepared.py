"""prepared_cursor: the money path's fixed statements are planned once per connection."""

from datetime import UTC, datetime

from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.prepared import prepared_cursor
from ledger.services import transfer_create
from tests.factories import EndUserFactory, open_account


def _prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def test_a_statement_is_prepared_once_it_has_run_five_times(requires_postgres):
    # given / when: a statement run six times on this connection
    statement = "SELECT %s::bigint * 2, %s::timestamptz, %s::bigint[] /* prepared-cursor test */"
    now = datetime.now(UTC)
    answers = []
    for number in range(6):
        with prepared_cursor() as cursor:
            cursor.execute(statement, [number, now, [number, 2**62]])
            answers.append(cursor.fetchone())
    # then: the same answers as before it was prepared, and the server holds it prepared
    assert answers == [(number * 2, now, [number, 2**62]) for number in range(6)]
    assert answers[0][1].tzinfo is not None
    assert any("prepared-cursor test" in prepared for prepared in _prepared_statements())


def test_the_transfer_statements_are_prepared(requires_postgres):
    # given: two accounts of one client
    sender = open_account(EndUserFactory(), "USD", deposit=100_00)
    recipient = open_account(EndUserFactory(client=sender.client), "USD")
    # when: several transfers on one connection
    for _ in range(6):
        transfer_create(from_account=sender, to_account=recipient, amount=1)
    # then: the ledger's call is prepared (planned once for the connection)
    assert any("ledger_entry_post(" in prepared for prepared in _prepared_statements())


def test_statements_being_recorded_are_recorded_with_their_text(db):
    with CaptureQueriesContext(connection) as captured:
        for number in range(7):
            with prepared_cursor() as cursor:
                cursor.execute("SELECT %s + 1", [number])
                assert cursor.fetchone() == (number + 1,)
    assert [query["sql"] for query in captured.captured_queries] == [f"SELECT {number} + 1" for number in range(7)]


def test_nothing_is_prepared_when_prepared_statements_are_off(requires_postgres):
    connection.ensure_connection()
    threshold = connection.connection.prepare_threshold
    connection.connection.prepare_threshold = None  # DATABASE_PREPARED_STATEMENTS=0
    try:
        for _ in range(6):
            with prepared_cursor() as cursor:
                cursor.execute("SELECT %s::int /* never prepared */", [1])
    finally:
        connection.connection.prepare_threshold = threshold
    assert not any("never prepared" in prepared for prepared in _prepared_statements())
