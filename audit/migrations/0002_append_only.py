"""Audit events are append-only in the database, whatever code writes to it.

PostgreSQL: a trigger refuses UPDATE and DELETE (TRUNCATE, used only by test teardown, is not a
row operation). SQLite: a BEFORE UPDATE trigger only, because Django's test flush empties tables
with DELETE there; deletion is refused by admin (no delete permission) and by PostgreSQL.
"""

from django.db import migrations

from core.migration_sql import vendor_sql

POSTGRES_FORWARD = """
CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are append-only', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END;
$$;
CREATE TRIGGER audit_auditevent_append_only BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
"""

POSTGRES_REVERSE = """
DROP TRIGGER IF EXISTS audit_auditevent_append_only ON audit_auditevent;
DROP FUNCTION IF EXISTS audit_refuse_change();
"""

SQLITE_FORWARD = [
    """CREATE TRIGGER audit_auditevent_no_update BEFORE UPDATE ON audit_auditevent
       BEGIN SELECT RAISE(ABORT, 'audit_auditevent rows are append-only'); END;""",
]

SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS audit_auditevent_no_update;",
]


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]
    operations = [
        vendor_sql(
            postgresql=POSTGRES_FORWARD,
            postgresql_reverse=POSTGRES_REVERSE,
            sqlite=SQLITE_FORWARD,
            sqlite_reverse=SQLITE_REVERSE,
        )
    ]
