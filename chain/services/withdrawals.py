"""Withdrawals to external addresses: held at submission, signed and recorded, broadcast,
tracked to finality.

Invariants:
- `amount + network_fee` is held at submission (available drops, balance does not); the hold is
  captured by the WITHDRAWAL entry (user → custody for the amount, user → fee revenue for the
  fee) or released by a rejection or a cancellation, exactly once (the hold's guarded status).
- Never sent twice: the signed transaction, its nonce and the entry are committed together
  before the first broadcast; every later attempt broadcasts that same transaction. One nonce per
  source address is also a unique constraint.
- A transaction that fails on chain is undone by one REVERSAL entry (`compensating_entry`).
- Gas actually consumed is booked once the receipt is seen: the client's funding account pays
  custody in the network's native coin, so custody keeps mirroring what the chain holds.
Locks: the network row (serialises nonce assignment per network) before the withdrawal row, then
the ledger's own (accounts in primary-key order, then holds).
"""

from dataclasses import dataclass, field
from typing import cast

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from accounts.models import User
from accounts.roles import COMPLIANCE, OPERATIONS, user_has_role
from audit.services import audit_record
from chain.adapters import TxState, adapter_for
from chain.adapters.base import BroadcastRejectedError
from chain.addresses import address_normalize
from chain.errors import WithdrawalFinalError, WithdrawalStateError
from chain.models import CryptoWithdrawal, DepositAddress, Network, NetworkAsset
from chain.services.addresses import network_asset_get
from core.errors import DomainError, PermissionDeniedError
from ledger.models import Account, JournalEntry
from ledger.services import Leg, entry_post, hold_create, hold_release, system_account_get, withdrawal_check
from ledger.services.movements import account_check_can_move

Status = CryptoWithdrawal.Status


@dataclass(frozen=True)
class WithdrawalRequest:
    account: Account
    address: str
    amount: int
    network: str | None = None
    reference: str = ""
    metadata: dict = field(default_factory=dict)


def crypto_withdrawal_submit(*, request: WithdrawalRequest) -> CryptoWithdrawal:
    """Validate, price the network fee, hold `amount + fee`, and queue the withdrawal (or hold it
    for Compliance above the review threshold). Nothing is written when any check fails.

    Raises WrongNetworkError, InvalidAddressError, InvalidAmountError, NotAUserAccountError,
    InactiveAccountError, UserFrozenError, CurrencyNotAuthorizedError, InsufficientFundsError,
    ChainUnavailableError (the fee could not be estimated).
    """
    from operations.services import withdrawal_needs_review

    account = request.account
    asset = network_asset_get(currency=account.currency, network_code=request.network)
    address = address_normalize(network=asset.network, address=request.address)
    withdrawal_check(account=account, amount=request.amount)
    fee = adapter_for(asset.network).estimate_fee(asset)
    withdrawal_check(account=account, amount=request.amount + fee)
    needs_review = withdrawal_needs_review(account=account, amount=request.amount)
    with transaction.atomic():
        hold = hold_create(account=account, amount=request.amount + fee, reason="crypto withdrawal")
        withdrawal = CryptoWithdrawal.objects.create(
            client_id=account.client_id, user_id=cast(int, account.user_id), account=account, network=asset.network,
            address=address, amount=request.amount, network_fee=fee, hold=hold,
            status=Status.PENDING_REVIEW if needs_review else Status.PENDING,
            reference=request.reference, metadata=request.metadata,
        )
        audit_record(action="chain.withdrawal_submitted", obj=withdrawal,
                     after={"status": withdrawal.status, "amount": request.amount, "fee": fee, "address": address})
        if not needs_review:
            _enqueue_send(withdrawal)
    return withdrawal


def crypto_withdrawal_cancel(*, withdrawal: CryptoWithdrawal, actor: User | None = None) -> CryptoWithdrawal:
    """Release the hold of a withdrawal not yet signed. Raises WithdrawalFinalError."""
    with transaction.atomic():
        locked = _lock(withdrawal)
        if locked.status not in (Status.PENDING, Status.PENDING_REVIEW):
            raise WithdrawalFinalError(f"Withdrawal {locked.pk} is {locked.status}; it can no longer be cancelled.")
        hold_release(hold=locked.hold)
        _set_status(locked, Status.CANCELLED, actor=actor, finished_at=timezone.now())
    return locked


def crypto_withdrawal_approve(*, withdrawal: CryptoWithdrawal, actor: User) -> CryptoWithdrawal:
    """Compliance lets a held withdrawal go to the sender. Raises PermissionDeniedError,
    WithdrawalStateError."""
    _require_role(actor, COMPLIANCE, "Only Compliance may approve held crypto withdrawals.")
    with transaction.atomic():
        locked = _lock(withdrawal)
        _require_status(locked, Status.PENDING_REVIEW)
        _set_status(locked, Status.PENDING, actor=actor)
        _enqueue_send(locked)
    return locked


def crypto_withdrawal_reject(*, withdrawal: CryptoWithdrawal, actor: User, reason: str) -> CryptoWithdrawal:
    """Compliance refuses a held withdrawal: the hold is released, nothing moves."""
    _require_role(actor, COMPLIANCE, "Only Compliance may reject held crypto withdrawals.")
    with transaction.atomic():
        locked = _lock(withdrawal)
        _require_status(locked, Status.PENDING_REVIEW)
        hold_release(hold=locked.hold)
        _set_status(locked, Status.REJECTED, actor=actor, failure_reason=reason[:300], finished_at=timezone.now())
    return locked


def crypto_withdrawal_send(*, withdrawal_id: int) -> CryptoWithdrawal:
    """The sender: sign and record (with the entry capturing the hold), commit, then broadcast.

    Safe to run any number of times, concurrently or after a crash at any point: a pending
    withdrawal is signed once under the network and withdrawal locks; a `broadcasting` one is
    re-broadcast with the recorded transaction. Manual custody leaves it pending for staff.
    A user who may no longer move money (frozen, deactivated) keeps the withdrawal pending.
    """
    withdrawal = CryptoWithdrawal.objects.select_related("network").get(pk=withdrawal_id)
    adapter = adapter_for(withdrawal.network)
    if withdrawal.status == Status.PENDING and not adapter.is_manual:
        with transaction.atomic():
            Network.objects.select_for_update().filter(pk=withdrawal.network_id).first()
            locked = _lock(withdrawal)
            if locked.status != Status.PENDING:
                return locked
            try:
                account_check_can_move(account=locked.account)
            except DomainError:
                return locked
            signed = adapter.sign_withdrawal(
                locked, sources=_sources(locked.network, adapter), recorded_nonces=_recorded_nonces(locked.network)
            )
            if signed is None:
                return locked
            entry = _post_withdrawal_entry(locked, reference=signed.tx_hash)
            CryptoWithdrawal.objects.filter(pk=locked.pk).update(
                status=Status.BROADCASTING, signed_tx=signed.raw, tx_hash=signed.tx_hash, nonce=signed.nonce,
                source_address=signed.source_address, entry=entry,
            )
            audit_record(action="chain.withdrawal_signed", obj=locked,
                         after={"tx_hash": signed.tx_hash, "nonce": signed.nonce, "source": signed.source_address})
        withdrawal.refresh_from_db()
    if withdrawal.status == Status.BROADCASTING:
        _broadcast(withdrawal, adapter)
        withdrawal.refresh_from_db()
    return withdrawal


def crypto_withdrawal_track(*, withdrawal: CryptoWithdrawal) -> CryptoWithdrawal:
    """Follow a broadcast transaction: book the gas once mined, confirm at the threshold, undo a
    failure with a compensating entry, re-broadcast one the node lost."""
    adapter = adapter_for(withdrawal.network)
    if withdrawal.status != Status.BROADCAST or adapter.is_manual:
        return withdrawal
    status = adapter.tx_status(withdrawal.tx_hash)
    if status is None:
        return withdrawal
    if status.state == TxState.MISSING:
        _broadcast(withdrawal, adapter)
        return withdrawal
    if status.state == TxState.PENDING:
        return withdrawal
    with transaction.atomic():
        locked = _lock(withdrawal)
        if locked.status != Status.BROADCAST:
            return locked
        if locked.gas_entry_id is None and status.fee_paid:
            _book_gas(locked, status.fee_paid)
        CryptoWithdrawal.objects.filter(pk=locked.pk).update(
            confirmations=status.confirmations, block_number=status.block_number
        )
        if status.state == TxState.FAILED:
            _fail(locked, reason="the transaction failed on chain")
        elif status.confirmations >= locked.network.confirmations_required:
            _set_status(locked, Status.CONFIRMED, finished_at=timezone.now())
    withdrawal.refresh_from_db()
    return withdrawal


def crypto_withdrawal_record_broadcast(*, withdrawal: CryptoWithdrawal, actor: User, tx_hash: str) -> CryptoWithdrawal:
    """Manual custody: staff sent the coins from cold storage; record the hash. Posts the entry
    that captures the hold. Raises PermissionDeniedError, WithdrawalStateError."""
    _require_role(actor, OPERATIONS, "Only Operations may record crypto withdrawal broadcasts.")
    tx_hash = tx_hash.strip()
    if not tx_hash or len(tx_hash) > 100:
        raise WithdrawalStateError("A transaction hash is required.")
    with transaction.atomic():
        locked = _lock(withdrawal)
        _require_status(locked, Status.PENDING)
        entry = _post_withdrawal_entry(locked, reference=tx_hash)
        _set_status(
            locked, Status.BROADCAST, actor=actor, broadcast_at=timezone.now(), entry_id=entry.pk, tx_hash=tx_hash
        )
    return locked


def crypto_withdrawal_record_confirmations(
    *, withdrawal: CryptoWithdrawal, actor: User, confirmations: int
) -> CryptoWithdrawal:
    """Manual custody: staff enter (or import) the confirmations; confirmed at the threshold."""
    _require_role(actor, OPERATIONS, "Only Operations may record confirmations.")
    with transaction.atomic():
        locked = _lock(withdrawal)
        _require_status(locked, Status.BROADCAST)
        CryptoWithdrawal.objects.filter(pk=locked.pk).update(confirmations=max(int(confirmations), 0))
        if confirmations >= locked.network.confirmations_required:
            _set_status(locked, Status.CONFIRMED, actor=actor, finished_at=timezone.now())
    locked.refresh_from_db()
    return locked


def crypto_withdrawal_record_failure(*, withdrawal: CryptoWithdrawal, actor: User, reason: str) -> CryptoWithdrawal:
    """Manual custody: the sent transaction failed; the compensating entry refunds the user."""
    _require_role(actor, OPERATIONS, "Only Operations may record failed withdrawals.")
    with transaction.atomic():
        locked = _lock(withdrawal)
        _require_status(locked, Status.BROADCAST)
        _fail(locked, reason=reason or "recorded as failed by staff", actor=actor)
    return locked


def _broadcast(withdrawal: CryptoWithdrawal, adapter) -> None:
    try:
        tx_hash = adapter.send_withdrawal(withdrawal)
    except BroadcastRejectedError as error:
        with transaction.atomic():
            locked = _lock(withdrawal)
            if locked.status in (Status.BROADCASTING, Status.BROADCAST):
                _fail(locked, reason=f"the node refused the transaction: {error}")
        return
    with transaction.atomic():
        locked = _lock(withdrawal)
        if locked.status == Status.BROADCASTING and tx_hash == locked.tx_hash:
            _set_status(locked, Status.BROADCAST, broadcast_at=timezone.now())


def _post_withdrawal_entry(withdrawal: CryptoWithdrawal, *, reference: str) -> JournalEntry:
    account = withdrawal.account
    custody = system_account_get(client=withdrawal.client_id, currency=account.currency_id, kind=Account.Kind.CUSTODY)
    legs = [Leg(account, -withdrawal.total), Leg(custody, withdrawal.amount)]
    if withdrawal.network_fee:
        revenue = system_account_get(
            client=withdrawal.client_id, currency=account.currency_id, kind=Account.Kind.FEE_REVENUE
        )
        legs.append(Leg(revenue, withdrawal.network_fee))
    return entry_post(
        client_id=withdrawal.client_id, kind=JournalEntry.Kind.WITHDRAWAL, legs=legs, reference=reference,
        metadata={"crypto_withdrawal": withdrawal.pk, "network": withdrawal.network.code,
                  "address": withdrawal.address, "network_fee": withdrawal.network_fee},
        captured_holds=[withdrawal.hold],
    )


def _fail(withdrawal: CryptoWithdrawal, *, reason: str, actor: User | None = None) -> None:
    entry = withdrawal.entry
    if entry is None:
        raise WithdrawalStateError(f"Withdrawal {withdrawal.pk} has no entry to compensate.")
    compensating = entry_post(
        client_id=withdrawal.client_id, kind=JournalEntry.Kind.REVERSAL,
        legs=[Leg(posting.account, -posting.amount) for posting in entry.postings.select_related("account")],
        reference=f"failed {withdrawal.tx_hash}"[:200], metadata={"crypto_withdrawal": withdrawal.pk},
        reverses=entry,
    )
    _set_status(
        withdrawal, Status.FAILED, actor=actor, failure_reason=reason[:300], finished_at=timezone.now(),
        compensating_entry_id=compensating.pk,
    )


def _book_gas(withdrawal: CryptoWithdrawal, fee_paid: int) -> None:
    native = NetworkAsset.objects.get(network=withdrawal.network_id, contract_address="")
    funding = system_account_get(client=withdrawal.client_id, currency=native.currency_id, kind=Account.Kind.FUNDING)
    custody = system_account_get(client=withdrawal.client_id, currency=native.currency_id, kind=Account.Kind.CUSTODY)
    entry = entry_post(
        client_id=withdrawal.client_id, kind=JournalEntry.Kind.FEE,
        legs=[Leg(funding, -fee_paid), Leg(custody, fee_paid)],
        reference=f"gas {withdrawal.tx_hash}"[:200], metadata={"crypto_withdrawal": withdrawal.pk},
    )
    CryptoWithdrawal.objects.filter(pk=withdrawal.pk).update(gas_entry=entry, gas_paid=fee_paid)


def _sources(network: Network, adapter) -> list[str]:
    derived = DepositAddress.objects.filter(network=network, derivation_index__isnull=False).order_by(
        "derivation_index"
    )
    hot_wallet = adapter.hot_wallet_address()
    return [*([hot_wallet] if hot_wallet else []), *derived.values_list("address", flat=True)]


def _recorded_nonces(network: Network) -> dict[str, int]:
    rows = (
        CryptoWithdrawal.objects.filter(network=network, nonce__isnull=False)
        .values_list("source_address").annotate(last=Max("nonce")).order_by()
    )
    return dict(rows)


def _lock(withdrawal: CryptoWithdrawal) -> CryptoWithdrawal:
    return (
        CryptoWithdrawal.objects.select_for_update(of=("self",))
        .select_related("hold", "network", "account", "account__user", "entry")
        .get(pk=withdrawal.pk)
    )


def _require_status(withdrawal: CryptoWithdrawal, status: str) -> None:
    if withdrawal.status != status:
        raise WithdrawalStateError(f"Withdrawal {withdrawal.pk} is {withdrawal.status}, not {status}.")


def _require_role(actor: User, role: str, message: str) -> None:
    if not user_has_role(actor, role):
        raise PermissionDeniedError(message)


def _set_status(withdrawal: CryptoWithdrawal, status: str, *, actor: User | None = None, **fields) -> None:
    before = withdrawal.status
    CryptoWithdrawal.objects.filter(pk=withdrawal.pk).update(status=status, **fields)
    withdrawal.status = status
    for name, value in fields.items():
        setattr(withdrawal, name, value)
    audit_record(actor=actor, action=f"chain.withdrawal_{status}", obj=withdrawal,
                 before={"status": before}, after={"status": status, **fields})


def _enqueue_send(withdrawal: CryptoWithdrawal) -> None:
    from chain.tasks import crypto_withdrawal_send_task

    withdrawal_id = withdrawal.pk
    transaction.on_commit(lambda: crypto_withdrawal_send_task.enqueue(withdrawal_id))
