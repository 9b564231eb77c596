"""The movement counters' user index: the unique (user, minute) leads with the user. Dropped by
name, not by AlterField, which on SQLite would rebuild the table for it."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("operations", "0004_movement_count_per_user_minute"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    "DROP INDEX operations_movementcount_user_id_7dcbc7e5",
                    "CREATE INDEX operations_movementcount_user_id_7dcbc7e5 ON operations_movementcount (user_id)",
                ),
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="movementcount",
                    name="user",
                    field=models.ForeignKey(
                        db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
        ),
    ]
