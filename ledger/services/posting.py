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
- A captured hold is closed with the accounts already locked (accounts, then holds: the order
  `hold_release` uses), in the transaction that takes its amount out of `held`, so a hold
  released or captured concurrently is refused as HoldNotActiveError and nothing is written.
  SQLite sends the locking SELECT and the hold's UPDATE; PostgreSQL's function runs the same
  steps server-side.
- Every posting carries the account's running balance: the same guarded UPDATE also advances
  the account's `sequence` by its number of postings and RETURNs the new balance, held and
  sequence, from which each posting's `sequence`, `balance_after` and `held_after` follow. The
  row lock taken by that UPDATE orders the account's postings, so sequences are contiguous and
  each `balance_after` is the previous one plus the amount, whatever runs concurrently.
  `posted_at` is the entry's `created_at`, never earlier than the account's last posting (below).
- An entry that is an API request's whole effect (the request offered its idempotency claim,
  `core.claims`) is posted on PostgreSQL by `posting_request` in one statement with its claim,
  event, compliance and reply, in autocommit: its rows are locked for that round trip only.
- Statements per entry: on PostgreSQL one, `ledger_entry_post` (migration 0009), which runs the
  guarded updates, the entry and its postings server-side and returns what the instances need;
  on SQLite one UPDATE … RETURNING per account, one INSERT of the entry, one INSERT of all its
  postings, and with captured holds one locking SELECT and one UPDATE per hold. Plus the
  savepoint pair when the entry is nested in a caller's transaction (unless `savepoint=False`).
- `posted_at` never decreases along an account's sequence. SQLite: the clock is read after the
  row updates (writers are serialised). PostgreSQL: the function takes the latest of the caller's
  clock, the account's last `posted_at` and its `holds_changed_at` (migration 0013), read under
  the row lock, so web processes whose clocks disagree cannot write an account's history out of
  order, and a posting that waited behind a hold's change is stamped after it (the holds active
  at its time are the ones its `held_after` counts).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.module_loading import import_string

from core.claims import claim_take
from core.transactions import atomic_service
from events.services import event_record
from ledger.errors import (
    HoldNotActiveError,
    InvalidAmountError,
)
from ledger.models import Account, Hold, JournalEntry, Posting
from ledger.money import MAX_MINOR_UNITS
from ledger.services.legs import AccountUpdate, Leg, account_updates, postings_remember
from ledger.services.posting_postgresql import entry_post_in_one_call
from ledger.services.posting_request import entry_post_request


def entry_post(
    *,
    client_id: int,
    kind: str,
    legs: Sequence[Leg],
    reference: str = "",
    metadata: dict | None = None,
    reverses: JournalEntry | None = None,
    captured_holds: Sequence[Hold] = (),
    savepoint: bool = True,
) -> JournalEntry:
    """Apply `legs` to balances and write the journal entry with its postings, atomically.

    Inside a caller's transaction the entry is written in a savepoint, so a caller that catches a
    refusal may carry on; not inside `core.transactions.atomic_whole()` (the API's idempotent
    requests), where every refusal ends the transaction, nor with `savepoint=False`. Without the
    savepoint a refusal marks the caller's transaction for rollback: any further statement in it
    fails loudly instead of running on a half-applied entry.

    `captured_holds` are consumed by this entry: their amount stops being held on their account
    in the same row update that debits it, and each hold moves active → captured exactly once.

    Raises UnbalancedEntryError (a bug in the caller), InsufficientFundsError (a debit would take
    an account's available balance below zero), InactiveAccountError, HoldNotActiveError,
    InvalidAmountError (an amount that is not an integer, or a balance that would leave 64 bits).
    """
    updates = account_updates(legs=legs, captured_holds=captured_holds)
    entry_fields = {
        "client_id": client_id,
        "kind": kind,
        "reference": reference,
        "metadata": metadata or {},
        "reverses": reverses,
    }
    claim = claim_take() if connection.vendor == "postgresql" else None
    if claim is not None:
        # The request's whole effect: its claim, this entry, its event, review and reply in one
        # statement (see `posting_request`), which returns the entry carrying its postings.
        return entry_post_request(
            claim=claim, entry_fields=entry_fields, updates=updates, legs=legs, captured_holds=captured_holds,
            observers=entry_observers(),
        )
    account_ids = [update.account_id for update in updates]
    with atomic_service(savepoint=savepoint):
        if captured_holds and connection.vendor != "postgresql":
            # Lock first, close the holds, then move `held`: see the module docstring. (PostgreSQL's
            # function takes the same steps itself.)
            list(Account.objects.select_for_update().filter(pk__in=account_ids).order_by("pk").values_list("pk"))
            for hold in captured_holds:
                hold_close(hold=hold, status=Hold.Status.CAPTURED)
        if connection.vendor == "postgresql":
            entry, postings = entry_post_in_one_call(
                entry_fields=entry_fields, updates=updates, legs=legs, captured_holds=captured_holds
            )
        else:
            after = {update.account_id: _apply(update) for update in updates}
            entry = JournalEntry.objects.create(**entry_fields)
            postings = Posting.objects.bulk_create(_running_postings(entry=entry, legs=legs, after=after))
        postings_remember(entry=entry, postings=postings)
        event_record(type="transaction.created", obj=entry, legs=legs)
        for observer in entry_observers():
            observer(entry=entry, legs=legs)
    return entry


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


def _apply(update: AccountUpdate) -> AccountAfter:
    """One guarded UPDATE per account; the WHERE clause is the overdraft, range and activity check."""
    guard, bound = update.guard
    state = _account_update_returning(
        account_id=update.account_id, amount=update.amount, released=update.released, postings=update.postings,
        guard=guard, bound=bound,
    )
    if state is not None:
        return state
    raise update.refusal(is_active=Account.objects.filter(pk=update.account_id, is_active=True).exists())


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


def hold_close(*, hold: Hold, status: str, at: datetime | None = None) -> None:
    closed = Hold.objects.filter(pk=hold.pk, status=Hold.Status.ACTIVE).update(
        status=status, closed_at=at or timezone.now()
    )
    if closed != 1:
        raise HoldNotActiveError(f"Hold {hold.pk} is no longer active.")
    hold.status = status


def entry_observers() -> list[Callable[..., None]]:
    """settings.LEDGER_ENTRY_OBSERVERS, each called with every entry posted, in its transaction."""
    return [import_string(path) for path in settings.LEDGER_ENTRY_OBSERVERS]
