"""The one function every money movement goes through: post a balanced journal entry.

Invariants kept (and why they hold under concurrency):
- Postings of an entry sum to zero per currency: checked here before any write, and on
  PostgreSQL again at commit by a deferred constraint trigger.
- An account without `allows_negative` never has `balance - held < 0`: each debit is a single
  `UPDATE ... SET balance = balance - x WHERE id = %s AND balance - held >= x`; the row count
  tells whether it applied. There is no read-check-write in Python, so two concurrent debits
  cannot both pass on a stale read. Check constraints are the backstop.
- Balances equal the sum of their postings: both are written in the same transaction.
- Every entry, of every kind, has exactly one `transaction.created` event, written here in the
  same transaction (the events outbox).
- Accounts are updated in primary-key order, so two entries touching the same accounts take
  their row locks in the same order and cannot deadlock each other.
- No balance leaves the signed 64-bit range: credits are guarded in the same UPDATE
  (`balance <= 2**63-1 - x`). PostgreSQL would raise on overflow, but SQLite silently turns an
  overflowing integer into a float, which must never reach a money column.
- A captured hold is closed before its amount leaves `held`, with the accounts already locked
  (accounts, then holds: the order `hold_release` uses), so a hold released or captured
  concurrently is refused as HoldNotActiveError rather than tripping a check constraint.
- Every posting carries the account's running balance: the same guarded UPDATE also advances
  the account's `sequence` by its number of postings and RETURNs the new balance, held and
  sequence, from which each posting's `sequence`, `balance_after` and `held_after` follow. The
  row lock taken by that UPDATE orders the account's postings, so sequences are contiguous and
  each `balance_after` is the previous one plus the amount, whatever runs concurrently.
  `posted_at` is the entry's `created_at`, taken after every account row is locked.
- Statements per entry: one UPDATE … RETURNING per account, one INSERT of the entry, one INSERT
  of all its postings (plus, with captured holds, one locking SELECT and one UPDATE per hold).
"""

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from events.services import event_record
from ledger.errors import (
    HoldNotActiveError,
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


def entry_post(
    *,
    client_id: int,
    kind: str,
    legs: Sequence[Leg],
    reference: str = "",
    metadata: dict | None = None,
    reverses: JournalEntry | None = None,
    captured_holds: Sequence[Hold] = (),
) -> JournalEntry:
    """Apply `legs` to balances and write the journal entry with its postings, atomically.

    `captured_holds` are consumed by this entry: their amount stops being held on their account
    in the same row update that debits it, and each hold moves active → captured exactly once.

    Raises UnbalancedEntryError (a bug in the caller), InsufficientFundsError (a debit would take
    an account's available balance below zero), InactiveAccountError, HoldNotActiveError,
    InvalidAmountError (an amount that is not an integer, or a balance that would leave 64 bits).
    """
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

    with transaction.atomic():
        if captured_holds:
            # Lock first, close the holds, then move `held`: see the module docstring.
            list(Account.objects.select_for_update().filter(pk__in=account_ids).order_by("pk").values_list("pk"))
            for hold in captured_holds:
                _hold_close(hold=hold, status=Hold.Status.CAPTURED)
        after: dict[int, AccountAfter] = {}
        for account_id in account_ids:
            after[account_id] = _apply(
                account=accounts.get(account_id),
                account_id=account_id,
                amount=amount_by_account.get(account_id, 0),
                released=released_by_account.get(account_id, 0),
                postings=legs_by_account.get(account_id, 0),
            )
        entry = JournalEntry.objects.create(
            client_id=client_id, kind=kind, reference=reference, metadata=metadata or {}, reverses=reverses
        )
        postings = Posting.objects.bulk_create(_running_postings(entry=entry, legs=legs, after=after))
        _remember_postings(entry=entry, postings=postings)
        event_record(type="transaction.created", obj=entry, legs=legs)
        for observer in _observers():
            observer(entry=entry, legs=legs)
    return entry


def _remember_postings(*, entry: JournalEntry, postings: list[Posting]) -> None:
    """Leave the postings as written, running balances included, on `entry.postings` (as a
    prefetch would), so rendering or counting them reads no row."""
    written = Posting.objects.filter(entry=entry)
    written._result_cache = postings
    written._prefetch_done = True  # type: ignore[attr-defined]  # Django's prefetch protocol
    entry._prefetched_objects_cache = {"postings": written}  # type: ignore[attr-defined]


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


@dataclass(frozen=True)
class AccountAfter:
    """An account's balance, held amount and posting sequence right after this entry's update."""

    balance: int
    held: int
    sequence: int


def _running_postings(*, entry: JournalEntry, legs: Sequence[Leg], after: dict[int, AccountAfter]) -> list[Posting]:
    """The entry's postings, in leg order, each with the account's running balance after it.

    An account with several legs in the entry gets consecutive sequences ending at the one the
    UPDATE returned; its balances before the entry are the returned one minus its legs' total.
    `held` changes once per entry (captured holds), so every posting shows the held after it.
    """
    running: dict[int, tuple[int, int]] = {}
    for account_id, state in after.items():
        legs_on_account = [leg.amount for leg in legs if leg.account.pk == account_id]
        running[account_id] = (state.balance - sum(legs_on_account), state.sequence - len(legs_on_account))
    postings = []
    for leg in legs:
        account_id = leg.account.pk
        balance, sequence = running[account_id]
        balance, sequence = balance + leg.amount, sequence + 1
        if abs(balance) > MAX_MINOR_UNITS:
            raise InvalidAmountError(f"Account {account_id} would pass the largest balance the ledger holds.")
        running[account_id] = (balance, sequence)
        postings.append(
            Posting(
                entry=entry,
                account=leg.account,
                amount=leg.amount,
                sequence=sequence,
                balance_after=balance,
                held_after=after[account_id].held,
                posted_at=entry.created_at,
            )
        )
    return postings


def _apply(*, account: Account | None, account_id: int, amount: int, released: int, postings: int) -> AccountAfter:
    """One guarded UPDATE per account; the WHERE clause is the overdraft, range and activity check."""
    allows_negative = account is not None and account.allows_negative
    if amount < 0 and not allows_negative:
        # Available after this entry's captured holds are released must cover the debit. Written
        # as `balance - held >= x` because `held + x` could overflow 64 bits; balance - held cannot.
        guard, bound = "available_covers", -amount - released
    elif amount < 0:
        guard, bound = "balance_at_least", -MAX_MINOR_UNITS - amount
    elif amount > 0:
        guard, bound = "balance_at_most", MAX_MINOR_UNITS - amount
    else:
        guard, bound = "none", 0
    state = _account_update_returning(
        account_id=account_id, amount=amount, released=released, postings=postings, guard=guard, bound=bound
    )
    if state is not None:
        return state
    if not Account.objects.filter(pk=account_id, is_active=True).exists():
        raise InactiveAccountError(f"Account {account_id} is inactive.")
    if amount > 0 or allows_negative:
        raise InvalidAmountError(f"Account {account_id} would exceed the largest balance the ledger holds.")
    raise InsufficientFundsError(f"Account {account_id} does not have enough available funds.")


# The one statement that applies an entry to an account, per guard (fixed SQL, bound parameters):
# balance, held and sequence move together and the new values come back.
_UPDATE_RETURNING = {
    "available_covers": (
        "UPDATE ledger_account SET balance = balance + %s, held = held - %s, sequence = sequence + %s"
        " WHERE id = %s AND is_active = %s AND balance - held >= %s RETURNING balance, held, sequence"
    ),
    "balance_at_least": (
        "UPDATE ledger_account SET balance = balance + %s, held = held - %s, sequence = sequence + %s"
        " WHERE id = %s AND is_active = %s AND balance >= %s RETURNING balance, held, sequence"
    ),
    "balance_at_most": (
        "UPDATE ledger_account SET balance = balance + %s, held = held - %s, sequence = sequence + %s"
        " WHERE id = %s AND is_active = %s AND balance <= %s RETURNING balance, held, sequence"
    ),
    "none": (
        "UPDATE ledger_account SET balance = balance + %s, held = held - %s, sequence = sequence + %s"
        " WHERE id = %s AND is_active = %s AND %s = 0 RETURNING balance, held, sequence"
    ),
}


def _account_update_returning(
    *, account_id: int, amount: int, released: int, postings: int, guard: str, bound: int
) -> AccountAfter | None:
    """`UPDATE ledger_account … WHERE <guard> RETURNING balance, held, sequence`; None when the
    guard (or `is_active`) refused the row.

    Raw SQL because the ORM has no UPDATE … RETURNING (Django 5.2); SQLite ≥ 3.35 and PostgreSQL
    both run it. Invariants: the balance, held and sequence change in this one statement, under
    the row lock it takes, so what it returns is exactly the state right after this entry's
    postings on the account; `guard` names one of the fixed statements above; every value is a
    bound parameter.
    """
    with connection.cursor() as cursor:
        cursor.execute(_UPDATE_RETURNING[guard], [amount, released, postings, account_id, True, bound])
        row = cursor.fetchone()
    if row is None:
        return None
    return AccountAfter(balance=row[0], held=row[1], sequence=row[2])


def _hold_close(*, hold: Hold, status: str) -> None:
    closed = Hold.objects.filter(pk=hold.pk, status=Hold.Status.ACTIVE).update(
        status=status, closed_at=timezone.now()
    )
    if closed != 1:
        raise HoldNotActiveError(f"Hold {hold.pk} is no longer active.")
    hold.status = status


def _observers() -> list[Callable[..., None]]:
    return [import_string(path) for path in settings.LEDGER_ENTRY_OBSERVERS]
