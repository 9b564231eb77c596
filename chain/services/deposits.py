"""Deposits from the chain: seen by the watcher, credited once at the network's threshold.

Invariants:
- One ChainDeposit per (network, currency, tx hash, output/log index): the watcher may see a
  transfer on every pass; the unique constraint makes recording it idempotent.
- Credited at most once: the deposit row is locked and its status checked in the transaction
  that posts the entry (custody → user), and `entry` is one-to-one.
- Reorg-safe: confirmations are re-read from the node on every pass; a deposit whose transaction
  is no longer on the chain before the threshold is `dropped` and never credited.
"""

import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import audit_record
from chain.adapters import IncomingTransfer, TxState, adapter_for
from chain.models import ChainDeposit, DepositAddress, Network, NetworkAsset
from core.errors import DomainError
from events.services import event_record
from ledger.errors import AlreadyExistsError
from ledger.models import Account, JournalEntry
from ledger.services import Leg, account_create, entry_post, system_account_get

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScanResult:
    detected: int = 0
    credited: int = 0
    dropped: int = 0


def chain_deposits_scan(*, network: Network) -> ScanResult:
    """One watcher pass: record new transfers to our addresses, then refresh every pending
    deposit's confirmations and credit or drop it. The adapter re-reads recent blocks, so a
    transfer that only appears after a reorganisation is found too.
    Raises ChainUnavailableError (nothing half-done: each deposit is its own transaction)."""
    adapter = adapter_for(network)
    addresses = list(
        DepositAddress.objects.filter(network=network, user__isnull=False).values_list("address", flat=True)
    )
    transfers, cursor = adapter.incoming_transfers(since_cursor=network.scan_cursor, addresses=addresses)
    detected = sum(1 for transfer in transfers if _record(network=network, transfer=transfer))
    Network.objects.filter(pk=network.pk).update(scan_cursor=max(cursor, network.scan_cursor))
    credited = dropped = 0
    for deposit in ChainDeposit.objects.filter(network=network, status=ChainDeposit.Status.PENDING).order_by("pk"):
        status = adapter.tx_status(deposit.tx_hash)
        if status is not None:
            if status.state in (TxState.MISSING, TxState.FAILED):
                dropped += _drop(deposit=deposit, reason=status.state)
                continue
            ChainDeposit.objects.filter(pk=deposit.pk, status=ChainDeposit.Status.PENDING).update(
                confirmations=status.confirmations, block_number=status.block_number
            )
            deposit.confirmations = status.confirmations
        if deposit.confirmations >= network.confirmations_required:
            try:
                credited += chain_deposit_credit(deposit=deposit) is not None
            except DomainError as error:
                # e.g. the user was deactivated: the deposit stays pending, visible, for staff.
                logger.warning("chain deposit not credited", extra={"deposit": deposit.pk, "error": error.code})
    return ScanResult(detected=detected, credited=credited, dropped=dropped)


def chain_deposit_import(
    *, network: Network, tx_hash: str, output_index: int, address: str, currency_code: str, chain_amount: int,
    confirmations: int,
) -> ChainDeposit:
    """Manual custody: record a deposit (or new confirmations of one) from the custodian's report.
    The next watcher pass credits it at the threshold. Raises DepositAddress.DoesNotExist."""
    _record(network=network, transfer=IncomingTransfer(
        tx_hash=tx_hash, output_index=output_index, address=address, currency_code=currency_code,
        chain_amount=chain_amount, block_number=0,
    ))
    deposit = ChainDeposit.objects.get(
        network=network, currency_id=currency_code, tx_hash=tx_hash, output_index=output_index
    )
    ChainDeposit.objects.filter(pk=deposit.pk, status=ChainDeposit.Status.PENDING).update(confirmations=confirmations)
    deposit.refresh_from_db()
    return deposit


def chain_deposit_credit(*, deposit: ChainDeposit) -> JournalEntry | None:
    """Book a confirmed deposit: one DEPOSIT entry from the client's custody account to the user's
    account (opened if the user has none). Exactly once; None when it was not pending any more.

    Deposits that arrived on chain are credited even if the user is frozen or not authorized for
    the currency: the coins are in our custody and belong to the user; those rules stop them from
    moving the money, not from receiving it.
    Locks: the deposit row, then the accounts in primary-key order.
    """
    with transaction.atomic():
        locked = ChainDeposit.objects.select_for_update().select_related("user", "network").get(pk=deposit.pk)
        if locked.status != ChainDeposit.Status.PENDING:
            return None
        account = _user_account(locked)
        custody = system_account_get(client=locked.client_id, currency=locked.currency_id, kind=Account.Kind.CUSTODY)
        entry = entry_post(
            client_id=locked.client_id,
            kind=JournalEntry.Kind.DEPOSIT,
            legs=[Leg(custody, -locked.amount), Leg(account, locked.amount)],
            reference=f"{locked.network.code}:{locked.tx_hash}:{locked.output_index}",
            metadata={"chain_deposit": locked.pk, "network": locked.network.code, "tx_hash": locked.tx_hash},
        )
        ChainDeposit.objects.filter(pk=locked.pk).update(
            status=ChainDeposit.Status.CREDITED, entry=entry, account=account, credited_at=timezone.now()
        )
        locked.status, locked.entry, locked.account = ChainDeposit.Status.CREDITED, entry, account
        _deposit_credited(locked)
    return entry


def _record(*, network: Network, transfer: IncomingTransfer) -> bool:
    """Insert the deposit if it is new; True when it was."""
    address = DepositAddress.objects.get(network=network, address=transfer.address, user__isnull=False)
    if address.user_id is None or address.client_id is None:  # the filter above; says so to the type checker
        raise DepositAddress.DoesNotExist(transfer.address)
    asset = NetworkAsset.objects.select_related("currency").get(network=network, currency_id=transfer.currency_code)
    factor = 10 ** (asset.chain_decimals - asset.currency.scale)
    amount, dust = divmod(transfer.chain_amount, factor)
    lookup = {"network": network, "currency_id": transfer.currency_code, "tx_hash": transfer.tx_hash,
              "output_index": transfer.output_index}
    if ChainDeposit.objects.filter(**lookup).exists():
        return False
    try:
        with transaction.atomic():
            deposit = ChainDeposit.objects.create(
                **lookup, client_id=address.client_id, deposit_address=address, user_id=address.user_id,
                amount=amount, dust=dust, block_number=transfer.block_number or None,
                status=ChainDeposit.Status.PENDING if amount > 0 else ChainDeposit.Status.BELOW_PRECISION,
            )
            _deposit_detected(deposit)
    except IntegrityError:
        return False
    return True


def _drop(*, deposit: ChainDeposit, reason: str) -> int:
    with transaction.atomic():
        dropped = ChainDeposit.objects.filter(pk=deposit.pk, status=ChainDeposit.Status.PENDING).update(
            status=ChainDeposit.Status.DROPPED
        )
        if dropped:
            audit_record(action="chain.deposit_dropped", obj=deposit, after={"reason": str(reason)})
    return dropped


def _user_account(deposit: ChainDeposit) -> Account:
    account = Account.objects.filter(user_id=deposit.user_id, currency_id=deposit.currency_id).first()
    if account is not None:
        return account
    try:
        return account_create(user=deposit.user, currency=deposit.currency)
    except AlreadyExistsError:
        return Account.objects.get(user_id=deposit.user_id, currency_id=deposit.currency_id)


def _deposit_detected(deposit: ChainDeposit) -> None:
    audit_record(action="chain.deposit_detected", obj=deposit,
                 after={"tx_hash": deposit.tx_hash, "amount": deposit.amount, "status": deposit.status})
    event_record(type="chain_deposit.detected", obj=deposit)


def _deposit_credited(deposit: ChainDeposit) -> None:
    audit_record(action="chain.deposit_credited", obj=deposit,
                 after={"tx_hash": deposit.tx_hash, "amount": deposit.amount, "entry": deposit.entry_id})
    event_record(type="chain_deposit.credited", obj=deposit)
