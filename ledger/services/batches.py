"""Many transfers in one request: all or none, or each on its own.

Every item is checked by `transfer_check` and posted by `entries_post`, so it is refused, posted,
reviewed by compliance and recorded exactly as a single transfer is (`transfer_create` is those
two steps for one item); this module only adds the batch's transaction, its locking order and
how a refusal is reported. On PostgreSQL the batch's entries, their events and their compliance
counters are each one statement, whatever the number of items.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

from core.errors import DomainError
from core.transactions import atomic_service
from ledger.errors import BatchItemRefusedError
from ledger.models import Account, JournalEntry
from ledger.services.entries import entries_post
from ledger.services.legs import EntryRequest, Leg, posted_for_rendering
from ledger.services.movements import transfer_check


@dataclass(frozen=True)
class TransferRequest:
    """One transfer of a batch, its accounts already resolved within the caller's scope."""

    from_account: Account
    to_account: Account
    amount: int
    reference: str = ""
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class TransferOutcome:
    """What became of one item: its entry, or the domain error that refused it."""

    index: int
    entry: JournalEntry | None = None
    error: DomainError | None = None


def transfer_batch_create(*, transfers: Sequence[TransferRequest | DomainError], atomic: bool) -> list[TransferOutcome]:
    """Apply `transfers` in order, in one transaction. An item may arrive already refused (its
    input could not be resolved: the caller passes the error in its place).

    `atomic=True`: all or none; the first refused item raises BatchItemRefusedError naming its
    index and nothing is written. `atomic=False`: each item rolls back alone if refused (a
    savepoint of its own, or on PostgreSQL a block of the ledger's function); refused items leave
    no trace and the others are applied.

    Locks: every account of the batch, in primary-key order, before the first transfer; each
    transfer then updates rows its transaction already holds, so two batches (or a batch and
    single transfers, which lock in the same order) cannot deadlock.
    Raises BatchItemRefusedError (atomic only).
    """
    if atomic:
        for index, item in enumerate(transfers):
            if isinstance(item, DomainError):
                raise BatchItemRefusedError(index=index, error=item)
    with atomic_service():
        _lock_accounts([item for item in transfers if isinstance(item, TransferRequest)])
        posted = entries_post(entries=[_entry_request(item) for item in transfers], atomic=atomic)
    outcomes = []
    for index, (item, outcome) in enumerate(zip(transfers, posted, strict=True)):
        if isinstance(outcome, DomainError):
            outcomes.append(TransferOutcome(index=index, error=outcome))
            continue
        assert isinstance(item, TransferRequest)
        outcomes.append(TransferOutcome(index=index, entry=posted_for_rendering(outcome, legs=_legs(item))))
    return outcomes


def _entry_request(item: TransferRequest | DomainError) -> EntryRequest | DomainError:
    if isinstance(item, DomainError):
        return item
    try:
        transfer_check(from_account=item.from_account, to_account=item.to_account, amount=item.amount)
    except DomainError as error:
        return error
    return EntryRequest(
        client_id=item.from_account.client_id, kind=JournalEntry.Kind.TRANSFER, legs=_legs(item),
        reference=item.reference, metadata=item.metadata,
    )


def _legs(item: TransferRequest) -> list[Leg]:
    return [Leg(item.from_account, -item.amount), Leg(item.to_account, item.amount)]


def _lock_accounts(requests: Sequence[TransferRequest]) -> None:
    account_ids = sorted({account.pk for request in requests for account in (request.from_account, request.to_account)})
    if account_ids:
        # list(): an unevaluated lock queryset takes no lock.
        list(Account.objects.select_for_update().filter(pk__in=account_ids).order_by("pk").values_list("pk", flat=True))
