"""Fewer indexes on the tables every money movement writes (one event, one delivery per endpoint).

- `events_event.public_id`: unique by a named constraint instead of `unique=True`, for which
  PostgreSQL also had a `varchar_pattern_ops` copy of the index that only LIKE prefix searches use
  (none: ids are looked up whole). On PostgreSQL the unique constraint is renamed, not rebuilt; on
  SQLite the column's inline UNIQUE stays (same rule, under SQLite's own name).
- `events_event.client_id` and `events_webhookdelivery.event_id`, the foreign keys' own indexes:
  the feed's (client, id) and the unique (event, endpoint) lead with the same column.

Dropped by name rather than by AlterField, which on SQLite rebuilds the table and with it would
drop the immutability trigger (migration 0002).
"""

import django.db.models.deletion
from django.db import migrations, models

import events.models
from core.migration_sql import vendor_sql

FOREIGN_KEY_INDEXES = [
    ("events_event_client_id_dc0c6190", "events_event", "client_id"),
    ("events_webhookdelivery_event_id_c8fd55d9", "events_webhookdelivery", "event_id"),
]

POSTGRES_PUBLIC_ID = """
DROP INDEX events_event_public_id_31e4f3d8_like;
ALTER TABLE events_event RENAME CONSTRAINT events_event_public_id_key TO events_event_public_id_unique;
"""

POSTGRES_PUBLIC_ID_REVERSE = """
ALTER TABLE events_event RENAME CONSTRAINT events_event_public_id_unique TO events_event_public_id_key;
CREATE INDEX events_event_public_id_31e4f3d8_like ON events_event (public_id varchar_pattern_ops);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("events", "0003_event_types_chain_deposits"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                *[
                    migrations.RunSQL(f"DROP INDEX {name}", f"CREATE INDEX {name} ON {table} ({column})")
                    for name, table, column in FOREIGN_KEY_INDEXES
                ],
                vendor_sql(postgresql=POSTGRES_PUBLIC_ID, postgresql_reverse=POSTGRES_PUBLIC_ID_REVERSE),
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="event",
                    name="client",
                    field=models.ForeignKey(
                        db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name="events",
                        to="accounts.client",
                    ),
                ),
                migrations.AlterField(
                    model_name="event",
                    name="public_id",
                    field=models.CharField(default=events.models.event_public_id, editable=False, max_length=40),
                ),
                migrations.AddConstraint(
                    model_name="event",
                    constraint=models.UniqueConstraint(fields=("public_id",), name="events_event_public_id_unique"),
                ),
                migrations.AlterField(
                    model_name="webhookdelivery",
                    name="event",
                    field=models.ForeignKey(
                        db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="deliveries",
                        to="events.event",
                    ),
                ),
            ],
        ),
    ]
