"""What an entry does to its accounts, worked out before anything is written: its legs (checked
to balance per currency and to stay within 64 bits), one update per account in primary-key order
(the lock order), and the postings written left on the entry as a prefetch would leave them.
Shared by both executors of `entry_post` and by `entries_post`."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from core.errors import DomainError
from ledger.errors import (
    InactiveAccountError,
    InsufficientFundsError,
    InvalidAmountError,
    UnbalancedEntryError,
)
from ledger.models import Account, Hold, JournalEntry, Posting
from ledger.money import MAX_MINOR_UNITS


@dataclass(frozen=True)
class Leg:
    """One signed amount on one account: negative debits (takes from), positive credits."""

    account: Account
    amount: int


@dataclass(frozen=True)
class EntryRequest:
    """One entry of `entries_post`: what `entry_post` takes, for an entry without holds or reversal."""

    client_id: int
    kind: str
    legs: Sequence[Leg]
    reference: str = ""
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class AccountUpdate:
    """What one entry does to one account: its net amount, the held amount its captured holds
    release, and how many postings it writes there."""

    account: Account | None
    account_id: int
    amount: int
    released: int
    postings: int

    @property
    def allows_negative(self) -> bool:
        return self.account is not None and self.account.allows_negative

    @property
    def guard(self) -> tuple[str, int]:
        """The WHERE clause that is the overdraft and range check, and its bound."""
        if self.amount < 0 and not self.allows_negative:
            # Available after this entry's captured holds are released must cover the debit. Written
            # as `balance - held >= x` because `held + x` could overflow 64 bits; balance - held cannot.
            return "available_covers", -self.amount - self.released
        if self.amount < 0:
            return "balance_at_least", -MAX_MINOR_UNITS - self.amount
        if self.amount > 0:
            return "balance_at_most", MAX_MINOR_UNITS - self.amount
        return "none", 0

    def refusal(self, *, is_active: bool) -> DomainError:
        """Why the guarded update left the row alone."""
        if not is_active:
            return InactiveAccountError(f"Account {self.account_id} is inactive.")
        if self.amount > 0 or self.allows_negative:
            return InvalidAmountError(f"Account {self.account_id} would exceed the largest balance the ledger holds.")
        return InsufficientFundsError(f"Account {self.account_id} does not have enough available funds.")


def account_updates(*, legs: Sequence[Leg], captured_holds: Sequence[Hold] = ()) -> list["AccountUpdate"]:
    """What the entry does to each of its accounts, in primary-key order (the lock order), once
    its legs are known to balance and to stay within 64 bits per account. Writes nothing."""
    _check_balanced(legs)
    amount_by_account: dict[int, int] = defaultdict(int)
    legs_by_account: dict[int, int] = defaultdict(int)
    accounts: dict[int, Account] = {}
    for leg in legs:
        amount_by_account[leg.account.pk] += leg.amount
        legs_by_account[leg.account.pk] += 1
        accounts[leg.account.pk] = leg.account
    released_by_account: dict[int, int] = defaultdict(int)
    for hold in captured_holds:
        released_by_account[hold.account_id] += hold.amount
    if any(abs(total) > MAX_MINOR_UNITS for total in amount_by_account.values()):
        raise InvalidAmountError("The postings on one account exceed the largest amount the ledger holds.")
    account_ids = sorted(set(amount_by_account) | set(released_by_account))
    return [
        AccountUpdate(
            account=accounts.get(account_id),
            account_id=account_id,
            amount=amount_by_account.get(account_id, 0),
            released=released_by_account.get(account_id, 0),
            postings=legs_by_account.get(account_id, 0),
        )
        for account_id in account_ids
    ]


def _check_balanced(legs: Sequence[Leg]) -> None:
    if not legs:
        raise UnbalancedEntryError("A journal entry needs postings.")
    totals: dict[str, int] = defaultdict(int)
    for leg in legs:
        if isinstance(leg.amount, bool) or not isinstance(leg.amount, int) or abs(leg.amount) > MAX_MINOR_UNITS:
            raise InvalidAmountError("A posting must be an integer number of minor units within 64 bits.")
        if leg.amount == 0:
            raise UnbalancedEntryError("A posting cannot be zero.")
        totals[leg.account.currency_id] += leg.amount
    if any(total != 0 for total in totals.values()):
        raise UnbalancedEntryError(f"Postings do not sum to zero per currency: {dict(totals)}")


def postings_remember(*, entry: JournalEntry, postings: list[Posting]) -> None:
    """Leave the postings as written, running balances included, on `entry.postings` (as a
    prefetch would), so rendering or counting them reads no row."""
    written = Posting.objects.get_queryset()
    # The filter is applied only if the queryset is ever compiled (as Django's related managers
    # do): building its WHERE clause cost more than posting, once per entry of a batch.
    written._defer_next_filter = True  # type: ignore[attr-defined]  # Django's related-manager protocol
    written = written.filter(entry=entry)
    written._result_cache = postings
    written._prefetch_done = True  # type: ignore[attr-defined]  # Django's prefetch protocol
    entry._prefetched_objects_cache = {"postings": written}  # type: ignore[attr-defined]


def posted_for_rendering(posted: JournalEntry, *, legs: Sequence[Leg]) -> JournalEntry:
    """A just-posted entry as the API renders it without a query: each leg's account shares the
    currency another leg of that currency has loaded, and nothing reverses it yet."""
    legs_share_currencies(legs)
    posted.reversed_by_pk = None  # type: ignore[attr-defined]  # just written: nothing reverses it yet
    return posted


def legs_share_currencies(legs: Sequence[Leg]) -> None:
    """Give each leg's account the currency another leg of that currency has loaded."""
    is_cached = Account.currency.is_cached
    currencies = {leg.account.currency_id: leg.account.currency for leg in legs if is_cached(leg.account)}
    for leg in legs:
        if not is_cached(leg.account) and leg.account.currency_id in currencies:
            leg.account.currency = currencies[leg.account.currency_id]
