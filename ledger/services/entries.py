"""Many entries posted at once (a batch of transfers), each exactly as `entry_post` posts it.

each is posted exactly as `entry_post` posts
  it, in order. On PostgreSQL the batch costs a fixed number of statements, whatever its size:
  one call of `ledger_entries_post` (migration 0010, which calls `ledger_entry_post` per entry),
  one statement for all their events, and the observers' own (compliance: one).
"""

from collections.abc import Sequence

from django.db import connection, transaction

from core.errors import DomainError
from core.transactions import atomic_service
from events.services import event_record_many
from ledger.errors import (
    BatchItemRefusedError,
)
from ledger.models import JournalEntry
from ledger.services.legs import AccountUpdate, EntryRequest, account_updates
from ledger.services.posting import entry_observers, entry_post
from ledger.services.posting_postgresql import entries_post_in_one_call


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
    to_post: list[tuple[int, EntryRequest, list[AccountUpdate]]] = []
    first_refused: tuple[int, DomainError] | None = None
    for index, request in enumerate(entries):
        try:
            if isinstance(request, DomainError):
                raise request
            to_post.append((index, request, account_updates(legs=request.legs)))
        except DomainError as error:
            if atomic:
                first_refused = (index, error)
                break
            outcomes[index] = error
    posted = entries_post_in_one_call(to_post, atomic=atomic) if to_post else []
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
        for observer in entry_observers():
            observe_many = getattr(observer, "observe_many", None)
            if observe_many is not None:
                observe_many(entries=written)
                continue
            for entry, legs in written:
                observer(entry=entry, legs=legs)
    return [outcome for outcome in outcomes if outcome is not None]
