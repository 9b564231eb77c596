"""Recompute the ledger from its postings and report every disagreement.

Checks: each account's balance equals the sum of its postings; each journal entry sums to zero
per currency; the total of all balances per currency is zero (money is conserved: every unit a
user holds is owed by a funding, inventory or fee account); no account that may not go negative
is negative; `held` is within `balance` and equals the sum of the account's active holds. Works
the same on SQLite and PostgreSQL (plain SQL aggregates, streamed, nothing held in memory per row).
"""

from dataclasses import dataclass, field

from django.db.models import Count, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from ledger.models import Account, Hold, JournalEntry, LedgerVerification, Posting


@dataclass
class VerificationReport:
    accounts_checked: int = 0
    entries_checked: int = 0
    totals: dict[str, int] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)

    @property
    def is_ok(self) -> bool:
        return not self.violations


def ledger_verify(*, record: bool = True) -> VerificationReport:
    """Verify the whole ledger; with `record`, store the outcome as a LedgerVerification row."""
    report = VerificationReport()
    posted = (
        Posting.objects.filter(account=OuterRef("pk")).values("account").annotate(total=Sum("amount")).values("total")
    )
    on_hold = (
        Hold.objects.filter(account=OuterRef("pk"), status=Hold.Status.ACTIVE)
        .values("account")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    accounts = Account.objects.annotate(
        posted=Coalesce(Subquery(posted), Value(0)), on_hold=Coalesce(Subquery(on_hold), Value(0))
    ).values_list("pk", "currency_id", "balance", "held", "allows_negative", "posted", "on_hold")
    rows = accounts.iterator(chunk_size=2000)
    for account_id, currency, balance, held, allows_negative, posted_total, on_hold_total in rows:
        report.accounts_checked += 1
        report.totals[currency] = report.totals.get(currency, 0) + balance
        if balance != posted_total:
            report.violations.append(
                f"account {account_id} ({currency}): balance {balance} != sum of postings {posted_total}"
            )
        if not allows_negative and balance - held < 0:
            report.violations.append(f"account {account_id} ({currency}): available {balance - held} is negative")
        if held < 0:
            report.violations.append(f"account {account_id} ({currency}): held {held} is negative")
        if held != on_hold_total:
            report.violations.append(
                f"account {account_id} ({currency}): held {held} != sum of active holds {on_hold_total}"
            )
    for currency, total in sorted(report.totals.items()):
        if total != 0:
            report.violations.append(f"currency {currency}: balances sum to {total}, not 0 (money not conserved)")

    unbalanced = (
        Posting.objects.values("entry_id", "account__currency_id")
        .annotate(total=Sum("amount"))
        .filter(~Q(total=0))
        .order_by("entry_id")
    )
    for row in unbalanced.iterator(chunk_size=2000):
        report.violations.append(
            f"entry {row['entry_id']} ({row['account__currency_id']}): postings sum to {row['total']}"
        )
    empty = JournalEntry.objects.annotate(n=Count("postings")).filter(n=0).values_list("pk", flat=True)
    for entry_id in empty.iterator():
        report.violations.append(f"entry {entry_id}: has no postings")
    report.entries_checked = JournalEntry.objects.count()

    if record:
        LedgerVerification.objects.create(
            is_ok=report.is_ok,
            accounts_checked=report.accounts_checked,
            entries_checked=report.entries_checked,
            violations=report.violations[:1000],
        )
    return report


__all__ = ["VerificationReport", "ledger_verify"]
