"""Back-office reads exposed to clients, always scoped to the caller."""

from django.db.models import QuerySet

from accounts.callers import Caller, scope_to_caller
from operations.models import PendingWithdrawal


def pending_withdrawal_list(*, caller: Caller) -> QuerySet[PendingWithdrawal]:
    """Withdrawals held for review (whatever their decision) in the caller's tenant."""
    withdrawals = scope_to_caller(PendingWithdrawal.objects.all(), caller).select_related("account__currency")
    if caller.is_end_user:
        withdrawals = withdrawals.filter(user_id=caller.user.pk)
    return withdrawals
