"""Ledger history reads: balances as of any instant, statements over a period, trial balances.

Every answer comes from the running balances postings carry (`balance_after`, `sequence`,
`posted_at`), never from a replay:
- The balance of an account as of `t` is the `balance_after` of its last posting with
  `posted_at <= t`: one backward probe of the index (account, posted_at, sequence), the same cost
  for 10 postings or 1,000,000. All postings of an entry share `posted_at`, so an instant never
  splits an entry. Before the first posting the balance is 0; an instant in the future answers
  the balance now (later postings may still change it).
- `available` as of `t` is that balance minus the holds active at `t` (created at or before `t`,
  not closed by then), summed over the account's holds indexed by (account, closed_at).
- A statement covers `start <= posted_at < end`. Its postings are the account's sequences after
  the last posting before `start` up to the last posting before `end`, so the opening and closing
  balances are those two postings' `balance_after`, pages are keyset-paginated on (account,
  sequence) and cost the same at any depth, and opening + credits - debits = closing by
  construction. `total_credits` is one indexed range sum (O(postings in the period));
  `total_debits` follows from it.

Callers pass an account they already resolved through a tenant-scoped selector or access helper.
"""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db import OperationalError
from django.db.models import Count, IntegerField, Max, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.callers import Caller
from accounts.models import User
from ledger.models import Account, BalanceSnapshot, Currency, Hold, Posting
from ledger.money import from_minor_units
from ledger.selectors import account_list


@dataclass(frozen=True)
class BalanceAsOf:
    account: Account
    as_of: datetime
    balance: int
    available: int

    @property
    def currency(self) -> Currency:
        return self.account.currency


def accounts_with_balance_as_of(accounts: QuerySet[Account], *, as_of: datetime | None) -> QuerySet[Any]:
    """`accounts` annotated with `balance_as_of` and `held_as_of` (minor units), in the same query.

    Without `as_of`, the accounts' current balance and held amount.
    """
    if as_of is None:
        return accounts.annotate(
            balance_as_of=Coalesce("balance", Value(0)), held_as_of=Coalesce("held", Value(0))
        )
    last = Posting.objects.filter(account=OuterRef("pk"), posted_at__lte=as_of).order_by("-posted_at", "-sequence")
    active_holds = (
        Hold.objects.filter(account=OuterRef("pk"), created_at__lte=as_of)
        .filter(Q(closed_at__isnull=True) | Q(closed_at__gt=as_of))
        .order_by()
        .values("account")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return accounts.annotate(
        balance_as_of=Coalesce(Subquery(last.values("balance_after")[:1]), Value(0), output_field=IntegerField()),
        held_as_of=Coalesce(Subquery(active_holds), Value(0), output_field=IntegerField()),
    )


def account_balance_as_of(*, account: Account, as_of: datetime | None) -> BalanceAsOf:
    """The account's balance and available amount as of `as_of` (now when None). One query."""
    instant = as_of or timezone.now()
    row = accounts_with_balance_as_of(Account.objects.filter(pk=account.pk), as_of=as_of).values_list(
        "balance_as_of", "held_as_of"
    ).get()
    balance, held = row
    return BalanceAsOf(account=account, as_of=instant, balance=balance, available=balance - held)


def balance_list_as_of(
    *, caller: Caller, user: User, as_of: datetime | None, currency: Currency | None = None
) -> list[dict]:
    """The user's balances as of `as_of` in the shape of `ledger.selectors.balance_list`
    (`{currency, balance, available}`, one per account; zero for a named currency without an
    account), in one query for every currency."""
    accounts = account_list(caller=caller).filter(user_id=user.pk).order_by("currency_id")
    if currency is not None:
        accounts = accounts.filter(currency_id=currency.code)
    balances = [
        {
            "currency": account.currency,
            "balance": account.balance_as_of,
            "available": account.balance_as_of - account.held_as_of,
        }
        for account in accounts_with_balance_as_of(accounts, as_of=as_of)
    ]
    if currency is not None and not balances:
        balances = [{"currency": currency, "balance": 0, "available": 0}]
    return balances


@dataclass(frozen=True)
class Statement:
    account: Account
    start: datetime
    end: datetime
    opening_balance: int
    closing_balance: int
    total_credits: int
    total_debits: int
    # Postings with opening_sequence < sequence <= closing_sequence are the statement's.
    opening_sequence: int
    closing_sequence: int

    @property
    def currency(self) -> Currency:
        return self.account.currency


def statement_get(*, account: Account, start: datetime, end: datetime) -> Statement:
    """The account's statement for `start <= posted_at < end` (see the module docstring).

    Three indexed queries: the last posting before `start`, the last before `end`, and the sum of
    credits between them.
    """
    opening_sequence, opening_balance = _last_before(account=account, instant=start)
    closing_sequence, closing_balance = _last_before(account=account, instant=end)
    closing_sequence = max(closing_sequence, opening_sequence)
    if closing_sequence == opening_sequence:
        closing_balance = opening_balance
    credits = 0
    if closing_sequence > opening_sequence:
        credits = _credits(_range(account=account, after=opening_sequence, through=closing_sequence))
    return Statement(
        account=account,
        start=start,
        end=end,
        opening_balance=opening_balance,
        closing_balance=closing_balance,
        total_credits=credits,
        # opening + credits - debits = closing, exactly: the postings between are contiguous.
        total_debits=opening_balance + credits - closing_balance,
        opening_sequence=opening_sequence,
        closing_sequence=closing_sequence,
    )


def _credits(postings: QuerySet[Posting]) -> int:
    credited = postings.filter(amount__gt=0)
    try:
        return credited.aggregate(total=Sum("amount"))["total"] or 0
    except OperationalError:
        # SQLite's SUM raises past 64 bits (PostgreSQL sums bigints as numeric): credits over a
        # long period can exceed what any balance holds. Add them up exactly in Python instead.
        return sum(credited.values_list("amount", flat=True).iterator(chunk_size=2000))


def statement_posting_list(*, statement: Statement) -> QuerySet[Posting]:
    """The statement's postings, oldest first, with their entry (paginate by `sequence`)."""
    return (
        _range(account=statement.account, after=statement.opening_sequence, through=statement.closing_sequence)
        .select_related("entry", "account__currency")
        .order_by("sequence")
    )


def _range(*, account: Account, after: int, through: int) -> QuerySet[Posting]:
    return Posting.objects.filter(account_id=account.pk, sequence__gt=after, sequence__lte=through)


def _last_before(*, account: Account, instant: datetime) -> tuple[int, int]:
    """(sequence, balance_after) of the account's last posting strictly before `instant`; (0, 0)."""
    row = (
        Posting.objects.filter(account_id=account.pk, posted_at__lt=instant)
        .order_by("-posted_at", "-sequence")
        .values_list("sequence", "balance_after")
        .first()
    )
    return row or (0, 0)


@dataclass(frozen=True)
class TrialBalanceLine:
    """One client's accounts in one currency: each system account kind's balance and the sum of
    its users' accounts. `total` is zero when the ledger is sound."""

    client_id: int
    client_name: str
    currency: str
    scale: int
    funding: int
    fee_revenue: int
    inventory: int
    users: int
    other: int

    @property
    def total(self) -> int:
        return self.funding + self.fee_revenue + self.inventory + self.users + self.other


def trial_balance(*, client_id: int | None = None) -> list[TrialBalanceLine]:
    """Per client and currency, system accounts and the sum of user accounts (platform staff).

    One GROUP BY query over accounts (index client, currency, balance)."""
    accounts = Account.objects.all()
    if client_id is not None:
        accounts = accounts.filter(client_id=client_id)
    rows = (
        accounts.values_list("client_id", "client__name", "currency_id", "currency__scale", "kind")
        .annotate(total=Sum("balance"))
        .order_by("client_id", "currency_id", "kind")
    )
    lines: dict[tuple[int, str], dict] = {}
    for client, name, currency, scale, kind, total in rows:
        line = lines.setdefault(
            (client, currency),
            {"client_id": client, "client_name": name, "currency": currency, "scale": scale,
             "funding": 0, "fee_revenue": 0, "inventory": 0, "users": 0, "other": 0},
        )
        key = {Account.Kind.USER: "users", Account.Kind.FUNDING: "funding",
               Account.Kind.FEE_REVENUE: "fee_revenue", Account.Kind.INVENTORY: "inventory"}.get(kind, "other")
        line[key] += total or 0
    return [TrialBalanceLine(**line) for line in lines.values()]


@dataclass(frozen=True)
class SnapshotTotal:
    client_name: str
    currency: str
    users: str
    system: str
    accounts: int


def snapshot_totals_latest() -> tuple[date | None, list[SnapshotTotal]]:
    """The latest snapshot day and, per client and currency, its closing totals (amounts rendered):
    users' accounts and system accounts (their sum is zero). One aggregate query."""
    latest = BalanceSnapshot.objects.aggregate(latest=Max("date"))["latest"]
    if latest is None:
        return None, []
    rows = (
        BalanceSnapshot.objects.filter(date=latest)
        .values_list("account__client__name", "account__currency_id", "account__currency__scale")
        .annotate(
            users=Coalesce(Sum("balance", filter=Q(account__kind=Account.Kind.USER)), Value(0)),
            system=Coalesce(Sum("balance", filter=~Q(account__kind=Account.Kind.USER)), Value(0)),
            accounts=Count("id"),
        )
        .order_by("account__client__name", "account__currency_id")
    )
    return latest, [
        SnapshotTotal(
            client_name=name, currency=currency, users=from_minor_units(users, scale=scale),
            system=from_minor_units(system, scale=scale), accounts=accounts,
        )
        for name, currency, scale, users, system, accounts in rows
    ]
