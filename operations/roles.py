"""What each staff role may do: the permissions granted to the groups named in accounts.roles.

The groups are created by migration 0002; their permissions are set after every `migrate`, once
the last installed app's permissions exist (models added later get their permissions then).
Admin enforces these model permissions; the staff API checks group membership with
accounts.roles.user_has_role.
"""

from accounts.roles import COMPLIANCE, OPERATIONS, READ_ONLY

# Every role may view every model of these apps, and the dashboard.
VIEWABLE_APPS = ("accounts", "ledger", "broker", "audit", "operations", "chain", "events", "django_tasks_database")
EVERY_ROLE = ["operations.view_dashboard"]

# Operations manages clients, users, keys, accounts, orders and rates, and posts adjustments.
# Balances and journal entries stay read-only for everyone: admin grants no change on them.
OPERATIONS_GRANTS = [
    "accounts.add_client",
    "accounts.change_client",
    "accounts.add_user",
    "accounts.change_user",
    "accounts.add_apikey",
    "accounts.change_apikey",
    "ledger.add_account",
    "ledger.change_account",
    "ledger.add_currencyauthorization",
    "ledger.change_currencyauthorization",
    "ledger.delete_currencyauthorization",
    "ledger.change_currency",
    "operations.post_adjustment",
    "operations.reverse_transfer",
    "chain.add_network",
    "chain.change_network",
    "chain.add_networkasset",
    "chain.change_networkasset",
    "chain.delete_networkasset",
    "chain.operate_cryptowithdrawal",
    "events.delete_webhookendpoint",
]
# Every broker model: rates, orders, offered currenciesâ¦ (money moves only through its services).
# Webhook endpoints are managed on a client's behalf (events and attempts stay read-only in admin).
OPERATIONS_APP_GRANTS: dict[str, tuple[str, ...]] = {"broker": ("add", "change"), "events": ("add", "change")}

COMPLIANCE_GRANTS = [
    "operations.change_reviewitem",
    "operations.add_compliancerule",
    "operations.change_compliancerule",
    "operations.freeze_user",
    "operations.decide_pendingwithdrawal",
    "chain.decide_cryptowithdrawal",
]

ROLE_GRANTS: dict[str, tuple[list[str], dict[str, tuple[str, ...]]]] = {
    OPERATIONS: (OPERATIONS_GRANTS, OPERATIONS_APP_GRANTS),
    COMPLIANCE: (COMPLIANCE_GRANTS, {}),
    READ_ONLY: ([], {}),
}


def roles_sync(*, group_model, permission_model) -> None:
    """Create the role groups if missing and set exactly their permissions (idempotent).

    Takes the models so the data migration can pass its historical ones.
    """
    for role, (grants, app_grants) in ROLE_GRANTS.items():
        group, _ = group_model.objects.get_or_create(name=role)
        permissions = set(
            permission_model.objects.filter(
                content_type__app_label__in=VIEWABLE_APPS, codename__startswith="view_"
            ).values_list("pk", flat=True)
        )
        for dotted in EVERY_ROLE + grants:
            app_label, codename = dotted.split(".")
            permissions.update(
                permission_model.objects.filter(
                    content_type__app_label=app_label, codename=codename
                ).values_list("pk", flat=True)
            )
        for app_label, verbs in app_grants.items():
            for verb in verbs:
                permissions.update(
                    permission_model.objects.filter(
                        content_type__app_label=app_label, codename__startswith=f"{verb}_"
                    ).values_list("pk", flat=True)
                )
        group.permissions.set(permissions)


def roles_sync_after_migrate(sender, app_config=None, using=None, **kwargs) -> None:
    # post_migrate runs per app in INSTALLED_APPS order: at the last one, every app's permissions exist.
    from django.apps import apps
    from django.contrib.auth.models import Group, Permission

    if app_config is None or app_config.label != list(apps.get_app_configs())[-1].label:
        return

    roles_sync(group_model=Group, permission_model=Permission)
