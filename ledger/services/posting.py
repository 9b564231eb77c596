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
- Statements per entry: on PostgreSQL one, `ledger_entry_post` (migration 0009), which runs the
  guarded updates, the entry and its postings server-side and returns what the instances need;
  on SQLite one UPDATE … RETURNING per account, one INSERT of the entry, one INSERT of all its
  postings, and with captured holds one locking SELECT and one UPDATE per hold. Plus the
  savepoint pair when the entry is nested in a caller's transaction (unless `savepoint=False`).
- Many entries at once (`entries_post`, a batch): each is posted exactly as `entry_post` posts
  it, in order. On PostgreSQL the batch costs a fixed number of statements, whatever its size:
  one call of `ledger_entries_post` (migration 0010, which calls `ledger_entry_post` per entry),
  one statement for all their events, and the observers' own (compliance: one).
- `posted_at` never decreases along an account's sequence. SQLite: the clock is read after the
  row updates (writers are serialised). PostgreSQL: the function takes the later of the caller's
  clock and the account's last `posted_at`, read under the row lock, so web processes whose
  clocks disagree cannot write an account's history out of order.
"""

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from django.conf import settings
from django.db import DatabaseError, connection, models, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from core.errors import DomainError
from core.transactions import atomic_service
from events.services import event_record, event_record_many
from ledger.errors import (
    BatchItemRefusedError,
    HoldNotActiveError,
    InactiveAccountError,
    InsufficientFundsError,
    InvalidAmountError,
    UnbalancedEntryError,
)
from ledger.models import Account, Hold, JournalEntry, Posting
from ledger.money import MAX_MINOR_UNITS

_Model = TypeVar("_Model", bound=models.Model)


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
    updates = _updates_checked(legs=legs, captured_holds=captured_holds)
    account_ids = [update.account_id for update in updates]
    with atomic_service(savepoint=savepoint):
        if captured_holds and connection.vendor != "postgresql":
            # Lock first, close the holds, then move `held`: see the module docstring. (PostgreSQL's
            # function takes the same steps itself.)
            list(Account.objects.select_for_update().filter(pk__in=account_ids).order_by("pk").values_list("pk"))
            for hold in captured_holds:
                _hold_close(hold=hold, status=Hold.Status.CAPTURED)
        entry_fields = {
            "client_id": client_id,
            "kind": kind,
            "reference": reference,
            "metadata": metadata or {},
            "reverses": reverses,
        }
        if connection.vendor == "postgresql":
            entry, postings = _post_in_one_statement(
                entry_fields=entry_fields, updates=updates, legs=legs, captured_holds=captured_holds
            )
        else:
            after = {update.account_id: _apply(update) for update in updates}
            entry = JournalEntry.objects.create(**entry_fields)
            postings = Posting.objects.bulk_create(_running_postings(entry=entry, legs=legs, after=after))
        _remember_postings(entry=entry, postings=postings)
        event_record(type="transaction.created", obj=entry, legs=legs)
        for observer in _observers():
            observer(entry=entry, legs=legs)
    return entry



@dataclass(frozen=True)
class EntryRequest:
    """One entry of `entries_post`: what `entry_post` takes, for an entry without holds or reversal."""

    client_id: int
    kind: str
    legs: Sequence[Leg]
    reference: str = ""
    metadata: dict = field(default_factory=dict)


def entries_post(*, entries: Sequence[EntryRequest | DomainError], atomic: bool) -> list[JournalEntry | DomainError]:
    """Post `entries` in order, in one transaction, each exactly as `entry_post` would: the same
    checks, guarded updates, running balances, `transaction.created` event and observers. An item
    may arrive already refused (the caller's checks failed): its error stands in its place.

    `atomic=True`: all or none; the first refused entry, in order, raises BatchItemRefusedError
    naming its position, and nothing is written. `atomic=False`: a refused entry leaves no trace
    (it is rolled back alone) and its error takes its place in the list returned; the others
    are posted.

    Events and observers run once every entry is posted, for the posted ones, in entry order. An
    observer that has an `observe_many` attribute is handed them all in one call (it must decide
    exactly as entry by entry would); any other is called per entry.
    Locks: each entry's accounts in primary-key order, entry after entry (a caller that locks
    all of them up front, in primary-key order, keeps batches from deadlocking each other).
    Statements on PostgreSQL: one call of `ledger_entries_post`, one for the events and their
    deliveries, and the observers'. On SQLite: `entry_post` per entry.
    Raises BatchItemRefusedError (atomic only).
    """
    with atomic_service():
        if connection.vendor == "postgresql":
            return _entries_post_in_one_statement(entries=entries, atomic=atomic)
        return _entries_post_one_by_one(entries=entries, atomic=atomic)


def _entries_post_one_by_one(
    *, entries: Sequence[EntryRequest | DomainError], atomic: bool
) -> list[JournalEntry | DomainError]:
    outcomes: list[JournalEntry | DomainError] = []
    for index, request in enumerate(entries):
        if isinstance(request, DomainError):
            if atomic:
                raise BatchItemRefusedError(index=index, error=request)
            outcomes.append(request)
            continue
        if atomic:
            try:
                outcomes.append(_entry_post_requested(request))
            except DomainError as error:
                raise BatchItemRefusedError(index=index, error=error) from error
            continue
        try:
            with transaction.atomic():  # a savepoint: a refused entry rolls back alone
                outcomes.append(_entry_post_requested(request, savepoint=False))
        except DomainError as error:
            outcomes.append(error)
    return outcomes


def _entry_post_requested(request: EntryRequest, *, savepoint: bool = True) -> JournalEntry:
    return entry_post(
        client_id=request.client_id, kind=request.kind, legs=request.legs, reference=request.reference,
        metadata=request.metadata, savepoint=savepoint,
    )


def _entries_post_in_one_statement(
    *, entries: Sequence[EntryRequest | DomainError], atomic: bool
) -> list[JournalEntry | DomainError]:
    """The PostgreSQL executor of `entries_post`. Entries after the first refused one are not
    sent when all or none (an entry before it may still be refused by the ledger, and the first
    refusal in order is the one reported)."""
    outcomes: list[JournalEntry | DomainError | None] = [None] * len(entries)
    to_post: list[tuple[int, EntryRequest, list[_AccountUpdate]]] = []
    first_refused: tuple[int, DomainError] | None = None
    for index, request in enumerate(entries):
        try:
            if isinstance(request, DomainError):
                raise request
            to_post.append((index, request, _updates_checked(legs=request.legs)))
        except DomainError as error:
            if atomic:
                first_refused = (index, error)
                break
            outcomes[index] = error
    posted = _post_many(to_post, atomic=atomic) if to_post else []
    if first_refused is not None:
        raise BatchItemRefusedError(index=first_refused[0], error=first_refused[1])
    for index, outcome in posted:
        outcomes[index] = outcome
    written = [
        (outcome, request.legs)
        for (_, request, _updates), (_, outcome) in zip(to_post, posted, strict=True)
        if isinstance(outcome, JournalEntry)
    ]
    if written:
        event_record_many(
            type="transaction.created", objs=[entry for entry, _ in written],
            render_contexts=[{"legs": legs} for _, legs in written],
        )
        for observer in _observers():
            observe_many = getattr(observer, "observe_many", None)
            if observe_many is not None:
                observe_many(entries=written)
                continue
            for entry, legs in written:
                observer(entry=entry, legs=legs)
    return [outcome for outcome in outcomes if outcome is not None]


# `ledger_entries_post` (migration 0010): many entries through `ledger_entry_post`, in order, in
# one round trip; per entry its share of the flattened arrays.
_ENTRIES_POST = (
    "SELECT entry_id, created_at, posting_ids, sequences, balances, helds, refusal_state, refusal_account"
    " FROM ledger_entries_post(%s, %s, %s::bigint[], %s::text[], %s::text[], %s::text[], %s::integer[],"
    " %s::bigint[], %s::bigint[], %s::bigint[], %s::integer[], %s::smallint[], %s::bigint[], %s::integer[],"
    " %s::bigint[], %s::bigint[])"
)


def _post_many(
    to_post: list[tuple[int, EntryRequest, list["_AccountUpdate"]]], *, atomic: bool
) -> list[tuple[int, JournalEntry | DomainError]]:
    """One call of `ledger_entries_post` for `to_post` (position in the batch, request, updates);
    each position with its entry, or the refusal the ledger answered for it."""
    now = timezone.now()
    parameters: list = [now, atomic, [], [], [], [], [], [], [], [], [], [], [], [], [], []]
    (client_ids, kinds, references, metadata, account_counts, accounts, deltas, released, counts, guards,
     bounds, leg_counts, leg_accounts, leg_amounts) = parameters[2:]
    for _, request, updates in to_post:
        client_ids.append(request.client_id)
        kinds.append(request.kind)
        references.append(request.reference)
        metadata.append(json.dumps(request.metadata or {}))
        account_counts.append(len(updates))
        for update in updates:
            guard, bound = update.guard
            accounts.append(update.account_id)
            deltas.append(update.amount)
            released.append(update.released)
            counts.append(update.postings)
            guards.append(_GUARD_CODES[guard])
            bounds.append(bound)
        leg_counts.append(len(request.legs))
        leg_accounts.extend(leg.account.pk for leg in request.legs)
        leg_amounts.extend(leg.amount for leg in request.legs)
    try:
        with connection.cursor() as cursor:
            cursor.execute(_ENTRIES_POST, parameters)
            rows = cursor.fetchall()
    except DatabaseError as error:
        position = getattr(getattr(error.__cause__, "diag", None), "message_detail", None)
        if position is None or not position.isdigit():
            raise
        index, _, updates = to_post[int(position)]
        refusal = _refusal_from(error, updates)
        if refusal is error:
            raise
        raise BatchItemRefusedError(index=index, error=refusal) from None  # type: ignore[arg-type]
    outcomes: list[tuple[int, JournalEntry | DomainError]] = []
    for (index, request, updates), row in zip(to_post, rows, strict=True):
        entry_id, created_at, posting_ids, sequences, balances, helds, refusal_state, refusal_account = row
        if entry_id is None:
            outcomes.append((index, _refusal(refusal_state, refusal_account, updates)))
            continue
        entry_fields = {"client_id": request.client_id, "kind": request.kind, "reference": request.reference,
                        "metadata": request.metadata or {}, "reverses": None}
        entry, postings = _built(entry_fields, request.legs, (entry_id, created_at, posting_ids, sequences,
                                                              balances, helds))
        _remember_postings(entry=entry, postings=postings)
        outcomes.append((index, entry))
    return outcomes


def _updates_checked(*, legs: Sequence[Leg], captured_holds: Sequence[Hold] = ()) -> list["_AccountUpdate"]:
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
        _AccountUpdate(
            account=accounts.get(account_id),
            account_id=account_id,
            amount=amount_by_account.get(account_id, 0),
            released=released_by_account.get(account_id, 0),
            postings=legs_by_account.get(account_id, 0),
        )
        for account_id in account_ids
    ]


def _remember_postings(*, entry: JournalEntry, postings: list[Posting]) -> None:
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


@dataclass(frozen=True)
class _AccountUpdate:
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


def _apply(update: _AccountUpdate) -> AccountAfter:
    """One guarded UPDATE per account; the WHERE clause is the overdraft, range and activity check."""
    guard, bound = update.guard
    state = _account_update_returning(
        account_id=update.account_id, amount=update.amount, released=update.released, postings=update.postings,
        guard=guard, bound=bound,
    )
    if state is not None:
        return state
    raise update.refusal(is_active=Account.objects.filter(pk=update.account_id, is_active=True).exists())


# `ledger_entry_post` (migration 0009) on PostgreSQL: the updates, the entry and its postings in
# one round trip. Guards by number, as the function reads them; refusals by SQLSTATE.
_GUARD_CODES = {"none": 0, "available_covers": 1, "balance_at_least": 2, "balance_at_most": 3}
_ENTRY_POST = (
    "SELECT entry_id, created_at, posting_ids, sequences, balances, helds FROM ledger_entry_post("
    "%s, %s, %s, %s, %s::jsonb, %s, %s::bigint[], %s::bigint[], %s::bigint[], %s::integer[], %s::smallint[],"
    " %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[])"
)
_SQLSTATE_INACTIVE, _SQLSTATE_INSUFFICIENT, _SQLSTATE_OUT_OF_RANGE = "LG001", "LG002", "LG003"
_SQLSTATE_HOLD_NOT_ACTIVE = "LG004"
_SQLSTATE_NUMERIC_OUT_OF_RANGE = "22003"


def _post_in_one_statement(
    *, entry_fields: dict, updates: list[_AccountUpdate], legs: Sequence[Leg], captured_holds: Sequence[Hold]
) -> tuple[JournalEntry, list[Posting]]:
    """The PostgreSQL executor of `entry_post`: one call of `ledger_entry_post`, which runs the
    same guarded updates (in the same order), entry and postings as the SQLite path, and hands
    back what the ORM would have (ids, timestamp, running balances), so the entry and its
    postings are built here without reading them back."""
    guards = [update.guard for update in updates]
    metadata = JournalEntry._meta.get_field("metadata").get_db_prep_value(entry_fields["metadata"], connection)
    reverses = entry_fields["reverses"]
    parameters = [
        timezone.now(),
        entry_fields["client_id"], entry_fields["kind"], entry_fields["reference"], metadata,
        reverses.pk if reverses is not None else None,
        [update.account_id for update in updates], [update.amount for update in updates],
        [update.released for update in updates], [update.postings for update in updates],
        [_GUARD_CODES[guard] for guard, _ in guards], [bound for _, bound in guards],
        [leg.account.pk for leg in legs], [leg.amount for leg in legs], [hold.pk for hold in captured_holds],
    ]
    try:
        with connection.cursor() as cursor:
            cursor.execute(_ENTRY_POST, parameters)
            row = cursor.fetchone()
    except DatabaseError as error:
        raise _refusal_from(error, updates) from None
    for hold in captured_holds:
        hold.status = Hold.Status.CAPTURED
    return _built(entry_fields, legs, row)


def _built(entry_fields: dict, legs: Sequence[Leg], row: tuple) -> tuple[JournalEntry, list[Posting]]:
    """The entry and its postings from what `ledger_entry_post` returned for them."""
    entry_id, created_at, posting_ids, sequences, balances, helds = row
    entry = _loaded(JournalEntry(id=entry_id, created_at=created_at, **entry_fields))
    postings = [
        _loaded(
            Posting(
                id=posting_id, entry=entry, account=leg.account, amount=leg.amount, sequence=sequence,
                balance_after=balance_after, held_after=held_after, posted_at=created_at,
            )
        )
        for leg, posting_id, sequence, balance_after, held_after in zip(
            legs, posting_ids, sequences, balances, helds, strict=True
        )
    ]
    return entry, postings


def _refusal_from(error: DatabaseError, updates: list[_AccountUpdate]) -> Exception:
    sqlstate = getattr(error.__cause__, "sqlstate", None)
    if sqlstate == _SQLSTATE_HOLD_NOT_ACTIVE:
        return HoldNotActiveError(f"Hold {error.__cause__.diag.message_primary} is no longer active.")  # type: ignore[union-attr]
    if sqlstate == _SQLSTATE_NUMERIC_OUT_OF_RANGE:
        return InvalidAmountError("A running balance would pass the largest balance the ledger holds.")
    if sqlstate not in (_SQLSTATE_INACTIVE, _SQLSTATE_INSUFFICIENT, _SQLSTATE_OUT_OF_RANGE):
        return error
    return _refusal(sqlstate, error.__cause__.diag.message_primary, updates)  # type: ignore[union-attr]


def _refusal(sqlstate: str, account: str, updates: list[_AccountUpdate]) -> DomainError:
    """The domain error for a refusal the ledger's functions raised: its SQLSTATE, its account id."""
    if sqlstate == _SQLSTATE_NUMERIC_OUT_OF_RANGE:
        return InvalidAmountError("A running balance would pass the largest balance the ledger holds.")
    account_id = int(account)
    update = next(update for update in updates if update.account_id == account_id)
    return update.refusal(is_active=sqlstate != _SQLSTATE_INACTIVE)


def _loaded(instance: _Model) -> _Model:
    """A model instance built from values the database returned, marked as saved."""
    instance._state.adding = False
    instance._state.db = connection.alias
    return instance


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
