"""An event is what happened: the database refuses to change one, whatever code tries.

UPDATE is refused on both backends. DELETE stays allowed: the retention purge removes old events
(and Django's SQLite test flush empties tables with DELETE).
"""

from django.db import migrations

from core.migration_sql import vendor_sql

POSTGRES_FORWARD = """
CREATE FUNCTION events_refuse_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are immutable', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END;
$$;
CREATE TRIGGER events_event_immutable BEFORE UPDATE ON events_event
    FOR EACH ROW EXECUTE FUNCTION events_refuse_update();
"""

POSTGRES_REVERSE = """
DROP TRIGGER IF EXISTS events_event_immutable ON events_event;
DROP FUNCTION IF EXISTS events_refuse_update();
"""

SQLITE_FORWARD = [
    """CREATE TRIGGER events_event_immutable BEFORE UPDATE ON events_event
       BEGIN SELECT RAISE(ABORT, 'events_event rows are immutable'); END;""",
]

SQLITE_REVERSE = ["DROP TRIGGER IF EXISTS events_event_immutable;"]


class Migration(migrations.Migration):
    dependencies = [("events", "0001_events_and_webhooks")]
    operations = [
        vendor_sql(
            postgresql=POSTGRES_FORWARD,
            postgresql_reverse=POSTGRES_REVERSE,
            sqlite=SQLITE_FORWARD,
            sqlite_reverse=SQLITE_REVERSE,
        )
    ]
