"""Daily balance snapshots: every account's closing balance at the end of a day, for
reconciliation. Written once per (account, day); `verify_ledger` checks them against the
running balances."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from ledger.errors import SnapshotDayNotOverError
from ledger.models import Account, BalanceSnapshot, Posting


def snapshot_day_end(*, day: date) -> datetime:
    """The first instant after `day` in LEDGER_SNAPSHOT_TIMEZONE (exclusive end of the day)."""
    zone = ZoneInfo(settings.LEDGER_SNAPSHOT_TIMEZONE)
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)


def balance_snapshot_take(*, day: date) -> int:
    """Store the closing balance of every account at the end of `day`; returns how many rows
    were written. Idempotent: an account already snapshotted for `day` is left as it is (history
    before the end of a past day never changes, so a second run would write the same values).

    Raises SnapshotDayNotOverError for a day that has not ended yet (its balances could change).
    One INSERT per batch of accounts; each balance is one index probe (`ledger.history`).
    """
    as_of = snapshot_day_end(day=day)
    if as_of > timezone.now():
        raise SnapshotDayNotOverError(f"{day} has not ended yet in {settings.LEDGER_SNAPSHOT_TIMEZONE}.")
    # Strictly before the end of the day: a posting at midnight belongs to the next day.
    last = Posting.objects.filter(account=OuterRef("pk"), posted_at__lt=as_of).order_by("-posted_at", "-sequence")
    accounts = (
        Account.objects.filter(created_at__lt=as_of)
        .exclude(snapshots__date=day)
        .annotate(
            closing=Coalesce(Subquery(last.values("balance_after")[:1]), Value(0)),
            closing_sequence=Coalesce(Subquery(last.values("sequence")[:1]), Value(0)),
        )
        .values_list("pk", "closing", "closing_sequence")
        .order_by("pk")
    )
    written = 0
    batch: list[BalanceSnapshot] = []
    with transaction.atomic():
        for account_id, closing, sequence in accounts.iterator(chunk_size=2000):
            batch.append(
                BalanceSnapshot(account_id=account_id, date=day, as_of=as_of, balance=closing, sequence=sequence)
            )
            if len(batch) == 2000:
                written += len(BalanceSnapshot.objects.bulk_create(batch, ignore_conflicts=True))
                batch = []
        written += len(BalanceSnapshot.objects.bulk_create(batch, ignore_conflicts=True))
    return written
