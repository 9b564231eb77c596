"""Create the staff role groups and the default compliance rules.

Self-contained: it freezes the group names it creates and imports no live code. The groups'
permissions are set by operations.roles after every `migrate` (post_migrate, once every app's
permissions exist), so a fresh database still gets complete roles in one run.
"""

from django.db import migrations

ROLE_NAMES = ["Operations", "Compliance", "Read-only"]

DEFAULT_RULES = [
    # (name, kind, currency, threshold_usd, threshold_minor, max_movements, window_minutes)
    ("Movement above USD 10,000", "large_movement", None, 1_000_000, None, None, 60),
    ("BTC movement above 0.25 BTC (no rate known)", "large_movement", "BTC", None, 25_000_000, None, 60),
    ("ETH movement above 5 ETH (no rate known)", "large_movement", "ETH", None, 5_000_000_000, None, 60),
    ("More than 20 movements per hour", "velocity", None, None, None, 20, 60),
    ("Withdrawal within an hour of a deposit above USD 5,000", "withdrawal_after_deposit", None, 500_000, None,
     None, 60),
]


def forward(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ROLE_NAMES:
        Group.objects.get_or_create(name=name)

    ComplianceRule = apps.get_model("operations", "ComplianceRule")
    for name, kind, currency, threshold_usd, threshold_minor, max_movements, window in DEFAULT_RULES:
        ComplianceRule.objects.get_or_create(
            name=name,
            defaults={
                "kind": kind,
                "currency_id": currency,
                "threshold_usd": threshold_usd,
                "threshold_minor": threshold_minor,
                "max_movements": max_movements,
                "window_minutes": window,
            },
        )


def reverse(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLE_NAMES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("operations", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("accounts", "0001_initial"),
        ("ledger", "0003_database_invariants"),
        ("audit", "0002_append_only"),
        ("django_tasks_database", "__latest__"),
    ]
    operations = [migrations.RunPython(forward, reverse)]
