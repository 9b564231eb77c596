"""Crypto-rail reads, always scoped to the caller's tenant."""

from django.db.models import QuerySet

from accounts.callers import Caller, scope_to_caller
from chain.models import ChainDeposit, CryptoWithdrawal, CustodyReconciliation, DepositAddress


def deposit_address_list(*, caller: Caller, user_id: int) -> QuerySet[DepositAddress]:
    return (
        scope_to_caller(DepositAddress.objects.filter(user_id=user_id), caller)
        .select_related("network").prefetch_related("network__assets")
    )


def chain_deposit_list(*, caller: Caller) -> QuerySet[ChainDeposit]:
    deposits = scope_to_caller(ChainDeposit.objects.all(), caller).select_related("network", "currency")
    if caller.is_end_user:
        deposits = deposits.filter(user=caller.user)
    return deposits


def crypto_withdrawal_list(*, caller: Caller) -> QuerySet[CryptoWithdrawal]:
    withdrawals = scope_to_caller(CryptoWithdrawal.objects.all(), caller).select_related(
        "network", "account__currency"
    )
    if caller.is_end_user:
        withdrawals = withdrawals.filter(user=caller.user)
    return withdrawals


def custody_reconciliation_latest() -> CustodyReconciliation | None:
    """Platform-wide (custody wallets are shared by every client): staff dashboard only."""
    return CustodyReconciliation.objects.order_by("-ran_at").first()
