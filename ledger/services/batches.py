"""Many transfers in one request: all or none, or each on its own.

Every item goes through `transfer_create`, so it is checked, posted, reviewed by compliance and
recorded exactly as a single transfer is; this module only adds the batch's transaction, its
locking order and how a refusal is reported.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import transaction

from core.errors import DomainError
from core.transactions import atomic_service
from ledger.errors import BatchItemRefusedError
from ledger.models import Account, JournalEntry
from ledger.services.movements import transfer_create


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
    index and nothing is written. `atomic=False`: each item in a savepoint of its own; refused
    items leave no trace and the others are applied.

    Locks: every account of the batch, in primary-key order, before the first transfer; each
    transfer then updates rows its transaction already holds, so two batches (or a batch and
    single transfers, which lock in the same order) cannot deadlock.
    Raises BatchItemRefusedError (atomic only).
    """
    if atomic:
        for index, item in enumerate(transfers):
            if isinstance(item, DomainError):
                raise BatchItemRefusedError(index=index, error=item)
    outcomes: list[TransferOutcome] = []
    with atomic_service():
        _lock_accounts([item for item in transfers if isinstance(item, TransferRequest)])
        for index, item in enumerate(transfers):
            if isinstance(item, DomainError):
                outcomes.append(TransferOutcome(index=index, error=item))
                continue
            if atomic:
                try:
                    entry = _transfer(item)
                except DomainError as error:
                    raise BatchItemRefusedError(index=index, error=error) from error
                outcomes.append(TransferOutcome(index=index, entry=entry))
                continue
            try:
                with transaction.atomic():  # a savepoint: a refused item rolls back alone
                    entry = _transfer(item)
            except DomainError as error:
                outcomes.append(TransferOutcome(index=index, error=error))
            else:
                outcomes.append(TransferOutcome(index=index, entry=entry))
    return outcomes


def _transfer(item: TransferRequest) -> JournalEntry:
    return transfer_create(
        from_account=item.from_account,
        to_account=item.to_account,
        amount=item.amount,
        reference=item.reference,
        metadata=item.metadata,
    )


def _lock_accounts(requests: Sequence[TransferRequest]) -> None:
    account_ids = sorted({account.pk for request in requests for account in (request.from_account, request.to_account)})
    if account_ids:
        # list(): an unevaluated lock queryset takes no lock.
        list(Account.objects.select_for_update().filter(pk__in=account_ids).order_by("pk").values_list("pk", flat=True))
