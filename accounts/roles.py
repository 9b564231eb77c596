"""Staff roles. Each is a Django group (created by a data migration in the operations app)
with model permissions enforced in admin; the staff API checks the same membership here.

Platform superusers hold every role.
"""

from accounts.models import User

OPERATIONS = "Operations"  # manage clients, users, accounts, orders, rates; post adjustments
COMPLIANCE = "Compliance"  # read everything, work the review queue, decide held withdrawals, freeze
READ_ONLY = "Read-only"  # view only

ALL_ROLES = (OPERATIONS, COMPLIANCE, READ_ONLY)


def user_has_role(user: User | None, *roles: str) -> bool:
    if user is None or not user.is_active or user.kind != User.Kind.PLATFORM_STAFF:
        return False
    if user.is_superuser:
        return True
    return user.groups.filter(name__in=roles).exists()
