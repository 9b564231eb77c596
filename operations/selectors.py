"""Back-office reads: those exposed to clients, always scoped to the caller, and the
platform-wide figures staff watch (the dashboard and the Prometheus metrics read the same ones)."""

from dataclasses import dataclass

from django.db.models import Count, QuerySet

from accounts.callers import Caller, scope_to_caller
from ledger.models import JournalEntry, LedgerVerification
from operations.models import PendingWithdrawal, ReviewItem


@dataclass(frozen=True)
class PlatformFigures:
    entries_by_kind: dict[str, int]
    orders_by_status: dict[str, int]
    open_review_count: int
    worker_backlog: int
    worker_failed: int
    last_verification: LedgerVerification | None


def platform_figures() -> PlatformFigures:
    """Platform-wide counts (no tenant: staff only), each one aggregate query on indexed columns.
    Kinds and statuses with no rows are absent from the dicts."""
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    from broker.models import Order

    def counts(queryset, field: str) -> dict[str, int]:
        return dict(queryset.values_list(field).annotate(n=Count("id")).order_by())

    return PlatformFigures(
        entries_by_kind=counts(JournalEntry.objects.all(), "kind"),
        orders_by_status=counts(Order.objects.all(), "status"),
        open_review_count=ReviewItem.objects.filter(status=ReviewItem.Status.OPEN).count(),
        worker_backlog=DBTaskResult.objects.filter(status=TaskResultStatus.READY).count(),
        worker_failed=DBTaskResult.objects.filter(status=TaskResultStatus.FAILED).count(),
        last_verification=LedgerVerification.objects.order_by("-ran_at").first(),
    )


def pending_withdrawal_list(*, caller: Caller) -> QuerySet[PendingWithdrawal]:
    """Withdrawals held for review (whatever their decision) in the caller's tenant."""
    withdrawals = scope_to_caller(PendingWithdrawal.objects.all(), caller).select_related("account__currency")
    if caller.is_end_user:
        withdrawals = withdrawals.filter(user_id=caller.end_user_id)
    return withdrawals
