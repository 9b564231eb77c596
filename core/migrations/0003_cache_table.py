"""Create the database cache table (the default shared cache for throttling) with `migrate`.

Without it, a deployment that ran only `migrate` would fail every throttled request. The command
creates tables only for database caches that are configured and missing, so it is a no-op with
Redis.
"""

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("core", "0002_idempotency_body_as_text")]
    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
