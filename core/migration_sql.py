"""Database-specific SQL in migrations (triggers), installed the same way by every app.

Django's RunSQL runs on every backend; triggers are written per backend. `vendor_sql` returns a
RunPython operation that runs the statements for the connection's vendor and nothing elsewhere.
PostgreSQL scripts run as one statement batch without parameters (their `%` are PL/pgSQL's).
"""

from collections.abc import Sequence

from django.db import migrations


def vendor_sql(
    *,
    postgresql: str = "",
    postgresql_reverse: str = "",
    sqlite: Sequence[str] = (),
    sqlite_reverse: Sequence[str] = (),
) -> migrations.RunPython:
    def run(schema_editor, *, postgresql_script: str, sqlite_statements: Sequence[str]) -> None:
        vendor = schema_editor.connection.vendor
        if vendor == "postgresql" and postgresql_script:
            schema_editor.execute(postgresql_script, params=None)
        elif vendor == "sqlite":
            for statement in sqlite_statements:
                schema_editor.execute(statement)

    def forward(apps, schema_editor):
        run(schema_editor, postgresql_script=postgresql, sqlite_statements=sqlite)

    def reverse(apps, schema_editor):
        run(schema_editor, postgresql_script=postgresql_reverse, sqlite_statements=sqlite_reverse)

    return migrations.RunPython(forward, reverse)
