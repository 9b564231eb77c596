"""Statements PostgreSQL plans once per connection.

Django's PostgreSQL cursors bind parameters client-side, so the server parses and plans every
statement anew: for the short statements on the money path planning costs more than running
them (loading a transfer's two accounts took 0.6 ms of the server's CPU, most of it planning).
`prepared_cursor` binds server-side, and psycopg prepares a statement once it has run
`prepare_threshold` times (5) on a connection; afterwards PostgreSQL skips parsing and planning.
Use it for fixed statements that run on every request (the text must not vary with the values).

It goes through Django's cursor wrapper, so execute wrappers see its statements. While
statements are being recorded (DEBUG, or a test capturing them for the statement budgets) and
on SQLite it is an ordinary cursor: a prepared statement's text is not kept by psycopg, and the
record shows each statement with its values.

Behind a PgBouncer in transaction pooling mode, prepared statements need PgBouncer 1.21 or later
with `max_prepared_statements` set.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections


@contextmanager
def prepared_cursor() -> Iterator:
    database = connections[DEFAULT_DB_ALIAS]  # looked up once: this runs several times a request
    if database.vendor != "postgresql" or database.queries_logged:
        with database.cursor() as cursor:
            yield cursor
        return
    database.ensure_connection()
    database.validate_thread_sharing()
    kept = getattr(database, "_prepared_raw_cursor", None)
    if getattr(database, "_prepared_cursor_in_use", False):  # nested: a cursor of its own, closed after
        raw = _raw_cursor(database)
        try:
            yield database.make_cursor(raw)
        finally:
            raw.close()
        return
    if kept is None or kept.connection is not database.connection or kept.closed:
        kept = database._prepared_raw_cursor = _raw_cursor(database)  # type: ignore[attr-defined]
    database._prepared_cursor_in_use = True  # type: ignore[attr-defined]
    try:
        yield database.make_cursor(kept)
    finally:
        database._prepared_cursor_in_use = False  # type: ignore[attr-defined]


def _raw_cursor(database):
    """A server-binding cursor on the connection, as Django's own cursors read timestamps (in the
    connection's time zone). One is kept per connection and reused by every `prepared_cursor`
    block: psycopg then looks up its loaders and dumpers once, not per statement."""
    server_binding_cursor, timestamptz_loader, register_tzloader = _postgresql()
    raw = server_binding_cursor(database.connection)
    if database.timezone != database.connection.adapters.get_loader(*timestamptz_loader).timezone:
        register_tzloader(database.timezone, raw)
    return raw


@cache
def _postgresql() -> tuple[Any, tuple, Any]:
    # Imported on first use: the PostgreSQL backend needs psycopg, which SQLite setups may lack.
    from django.db.backends.postgresql.base import TIMESTAMPTZ_OID, ServerBindingCursor
    from django.db.backends.postgresql.psycopg_any import register_tzloader
    from psycopg.pq import Format

    return ServerBindingCursor, (TIMESTAMPTZ_OID, Format.TEXT), register_tzloader
