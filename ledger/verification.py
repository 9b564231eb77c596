"""Recompute the ledger from its postings and report every disagreement.

Checks: each account's balance equals the sum of its postings; each journal entry sums to zero
per currency; the total of all balances per currency is zero (money is conserved: every unit a
user holds is owed by a funding, inventory or fee account); no account that may not go negative
is negative; `held` is within `balance` and equals the sum of the account's active holds.

Running balances: per account, sequences run 1, 2, 3 … without a gap, each posting's
`balance_after` is the previous one plus its amount, the last one equals the account's balance
and its sequence the account's; the last posting's `held_after` equals the holds active at that
instant (created at or before it, closed after it or still open). Every balance snapshot equals
the running balance of the last posting before its `as_of`.

Works the same on SQLite and PostgreSQL (SQL aggregates and window functions, streamed, nothing
held in memory per row).
"""

from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Count, F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from ledger.models import Account, BalanceSnapshot, Hold, JournalEntry, LedgerVerification, Posting

# Postings whose running balance or sequence does not follow from the previous posting's.
RUNNING_BREAKS = """
SELECT account_id, sequence, amount, balance_after, previous_balance, previous_sequence FROM (
    SELECT account_id, sequence, amount, balance_after,
           LAG(balance_after) OVER running AS previous_balance,
           LAG(sequence) OVER running AS previous_sequence
    FROM ledger_posting
    WINDOW running AS (PARTITION BY account_id ORDER BY sequence)
) AS history
WHERE balance_after <> COALESCE(previous_balance, 0) + amount
   OR sequence <> COALESCE(previous_sequence, 0) + 1
ORDER BY account_id, sequence
"""

# Each account's last posting whose held_after is not what its holds say.
HELD_BREAKS = """
SELECT account_id, sequence, held_after, on_hold FROM (
    SELECT p.account_id, p.sequence, p.held_after,
           COALESCE((
               SELECT SUM(h.amount) FROM ledger_hold h
               WHERE h.account_id = p.account_id AND h.created_at <= p.posted_at
                 AND (h.closed_at IS NULL OR h.closed_at > p.posted_at)
           ), 0) AS on_hold
    FROM ledger_posting p JOIN ledger_account a ON a.id = p.account_id AND a.sequence = p.sequence
) AS last_postings
WHERE held_after <> on_hold
ORDER BY account_id
"""


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
    last = Posting.objects.filter(account=OuterRef("pk")).order_by("-sequence")
    accounts = Account.objects.annotate(
        posted=Coalesce(Subquery(posted), Value(0)),
        on_hold=Coalesce(Subquery(on_hold), Value(0)),
        last_balance=Coalesce(Subquery(last.values("balance_after")[:1]), Value(0)),
        last_sequence=Coalesce(Subquery(last.values("sequence")[:1]), Value(0)),
    ).values_list(
        "pk", "currency_id", "balance", "held", "allows_negative", "posted", "on_hold", "sequence",
        "last_balance", "last_sequence",
    )
    rows = accounts.iterator(chunk_size=2000)
    for (
        account_id, currency, balance, held, allows_negative, posted_total, on_hold_total, sequence,
        last_balance, last_sequence,
    ) in rows:
        report.accounts_checked += 1
        if balance != last_balance:
            report.violations.append(
                f"account {account_id} ({currency}): balance {balance} != last running balance {last_balance}"
            )
        if sequence != last_sequence:
            report.violations.append(
                f"account {account_id} ({currency}): sequence {sequence} != last posting's {last_sequence}"
            )
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
    _check_running_balances(report)
    _check_snapshots(report)

    if record:
        LedgerVerification.objects.create(
            is_ok=report.is_ok,
            accounts_checked=report.accounts_checked,
            entries_checked=report.entries_checked,
            violations=report.violations[:1000],
        )
    return report


def _check_running_balances(report: VerificationReport) -> None:
    with connection.cursor() as cursor:
        cursor.execute(RUNNING_BREAKS)
        for account_id, sequence, amount, balance_after, previous_balance, previous_sequence in cursor:
            report.violations.append(
                f"account {account_id} posting {sequence}: balance_after {balance_after} != previous "
                f"{previous_balance or 0} + amount {amount}, or sequence does not follow {previous_sequence or 0}"
            )
        cursor.execute(HELD_BREAKS)
        for account_id, sequence, held_after, active in cursor:
            report.violations.append(
                f"account {account_id} posting {sequence}: held_after {held_after} != holds active then {active}"
            )


def _check_snapshots(report: VerificationReport) -> None:
    before = Posting.objects.filter(account=OuterRef("account_id"), posted_at__lt=OuterRef("as_of")).order_by(
        "-posted_at", "-sequence"
    )
    snapshots = (
        BalanceSnapshot.objects.annotate(
            running=Coalesce(Subquery(before.values("balance_after")[:1]), Value(0)),
            running_sequence=Coalesce(Subquery(before.values("sequence")[:1]), Value(0)),
        )
        .filter(~Q(balance=F("running")) | ~Q(sequence=F("running_sequence")))
        .values_list("account_id", "date", "balance", "running")
        .order_by("date", "account_id")
    )
    for account_id, day, balance, running in snapshots.iterator(chunk_size=2000):
        report.violations.append(
            f"account {account_id} snapshot {day}: balance {balance} != running balance then {running}"
        )


__all__ = ["VerificationReport", "ledger_verify"]
