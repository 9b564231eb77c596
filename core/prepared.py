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
    server_binding_cursor, timestamptz_loader, register_tzloader = _postgresql()
    database.ensure_connection()
    raw = server_binding_cursor(database.connection)
    # As Django's own cursors: timestamps in the connection's time zone.
    if database.timezone != database.connection.adapters.get_loader(*timestamptz_loader).timezone:
        register_tzloader(database.timezone, raw)
    database.validate_thread_sharing()
    try:
        yield database.make_cursor(raw)
    finally:
        raw.close()


@cache
def _postgresql() -> tuple[Any, tuple, Any]:
    # Imported on first use: the PostgreSQL backend needs psycopg, which SQLite setups may lack.
    from django.db.backends.postgresql.base import TIMESTAMPTZ_OID, ServerBindingCursor
    from django.db.backends.postgresql.psycopg_any import register_tzloader
    from psycopg.pq import Format

    return ServerBindingCursor, (TIMESTAMPTZ_OID, Format.TEXT), register_tzloader
