"""The PostgreSQL executors of posting: one call of `ledger_entry_post` (migration 0009) for an
entry, one of `ledger_entries_post` (migration 0010) for many. Each runs server-side the same
guarded updates, in the same order, and the same inserts as the SQLite path in `posting`, and
returns what the ORM would have (ids, timestamps, running balances), so the entries and postings
are built here without reading them back. A refused update comes back as a SQLSTATE of our own
(LG001 inactive account, LG002 insufficient funds, LG003 out of 64 bits, LG004 hold no longer
active), mapped to the domain errors the SQLite path raises."""

import json
from collections.abc import Sequence
from typing import TypeVar

from django.db import DatabaseError, connection, models
from django.utils import timezone

from core.errors import DomainError
from core.prepared import prepared_cursor
from ledger.errors import (
    BatchItemRefusedError,
    HoldNotActiveError,
    InvalidAmountError,
)
from ledger.models import Hold, JournalEntry, Posting
from ledger.services.legs import AccountUpdate, EntryRequest, Leg, postings_remember

_Model = TypeVar("_Model", bound=models.Model)


# `ledger_entry_post` (migration 0009) on PostgreSQL: the updates, the entry and its postings in
# one round trip. Guards by number, as the function reads them; refusals by SQLSTATE.
GUARD_CODES = {"none": 0, "available_covers": 1, "balance_at_least": 2, "balance_at_most": 3}
_ENTRY_POST = (
    "SELECT entry_id, created_at, posting_ids, sequences, balances, helds FROM ledger_entry_post("
    "%s, %s, %s, %s, %s::jsonb, %s, %s::bigint[], %s::bigint[], %s::bigint[], %s::integer[], %s::smallint[],"
    " %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[])"
)
_SQLSTATE_INACTIVE, _SQLSTATE_INSUFFICIENT, _SQLSTATE_OUT_OF_RANGE = "LG001", "LG002", "LG003"
_SQLSTATE_HOLD_NOT_ACTIVE = "LG004"
_SQLSTATE_NUMERIC_OUT_OF_RANGE = "22003"
_LEDGER_REFUSALS = (_SQLSTATE_INACTIVE, _SQLSTATE_INSUFFICIENT, _SQLSTATE_OUT_OF_RANGE, _SQLSTATE_NUMERIC_OUT_OF_RANGE)


def entry_post_in_one_call(
    *, entry_fields: dict, updates: list[AccountUpdate], legs: Sequence[Leg], captured_holds: Sequence[Hold]
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
        [GUARD_CODES[guard] for guard, _ in guards], [bound for _, bound in guards],
        [leg.account.pk for leg in legs], [leg.amount for leg in legs], [hold.pk for hold in captured_holds],
    ]
    try:
        with prepared_cursor() as cursor:
            cursor.execute(_ENTRY_POST, parameters)
            row = cursor.fetchone()
    except DatabaseError as error:
        raise refusal_from(error, updates) from None
    for hold in captured_holds:
        hold.status = Hold.Status.CAPTURED
    return built_from_row(entry_fields, legs, row)


def built_from_row(entry_fields: dict, legs: Sequence[Leg], row: tuple) -> tuple[JournalEntry, list[Posting]]:
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


def refusal_from(error: DatabaseError, updates: list[AccountUpdate]) -> Exception:
    sqlstate = getattr(error.__cause__, "sqlstate", None)
    if sqlstate == _SQLSTATE_HOLD_NOT_ACTIVE:
        return HoldNotActiveError(f"Hold {error.__cause__.diag.message_primary} is no longer active.")  # type: ignore[union-attr]
    if sqlstate not in _LEDGER_REFUSALS:
        return error
    return _refusal(sqlstate, error.__cause__.diag.message_primary, updates)  # type: ignore[union-attr]


def _refusal(sqlstate: str, account: str, updates: list[AccountUpdate]) -> DomainError:
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


# `ledger_entries_post` (migration 0010): many entries through `ledger_entry_post`, in order, in
# one round trip; per entry its share of the flattened arrays.
_ENTRIES_POST = (
    "SELECT entry_id, created_at, posting_ids, sequences, balances, helds, refusal_state, refusal_account"
    " FROM ledger_entries_post(%s, %s, %s::bigint[], %s::text[], %s::text[], %s::text[], %s::integer[],"
    " %s::bigint[], %s::bigint[], %s::bigint[], %s::integer[], %s::smallint[], %s::bigint[], %s::integer[],"
    " %s::bigint[], %s::bigint[])"
)


def entries_post_in_one_call(
    to_post: list[tuple[int, EntryRequest, list[AccountUpdate]]], *, atomic: bool
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
            guards.append(GUARD_CODES[guard])
            bounds.append(bound)
        leg_counts.append(len(request.legs))
        leg_accounts.extend(leg.account.pk for leg in request.legs)
        leg_amounts.extend(leg.amount for leg in request.legs)
    try:
        with prepared_cursor() as cursor:
            cursor.execute(_ENTRIES_POST, parameters)
            rows = cursor.fetchall()
    except DatabaseError as error:
        position = getattr(getattr(error.__cause__, "diag", None), "message_detail", None)
        if position is None or not position.isdigit():
            raise
        index, _, updates = to_post[int(position)]
        refusal = refusal_from(error, updates)
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
        entry, postings = built_from_row(entry_fields, request.legs, (entry_id, created_at, posting_ids, sequences,
                                                              balances, helds))
        postings_remember(entry=entry, postings=postings)
        outcomes.append((index, entry))
    return outcomes
