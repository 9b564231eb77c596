"""Every write of the crypto rails goes through these services."""

from chain.services.addresses import deposit_address_assign, deposit_addresses_load, network_asset_get
from chain.services.deposits import chain_deposit_credit, chain_deposit_import, chain_deposits_scan
from chain.services.process import chain_process
from chain.services.reconciliation import custody_reconcile
from chain.services.withdrawals import (
    WithdrawalRequest,
    crypto_withdrawal_approve,
    crypto_withdrawal_cancel,
    crypto_withdrawal_record_broadcast,
    crypto_withdrawal_record_confirmations,
    crypto_withdrawal_record_failure,
    crypto_withdrawal_reject,
    crypto_withdrawal_send,
    crypto_withdrawal_submit,
    crypto_withdrawal_track,
)

__all__ = [
    "WithdrawalRequest",
    "chain_deposit_credit",
    "chain_deposit_import",
    "chain_deposits_scan",
    "chain_process",
    "crypto_withdrawal_approve",
    "crypto_withdrawal_cancel",
    "crypto_withdrawal_record_broadcast",
    "crypto_withdrawal_record_confirmations",
    "crypto_withdrawal_record_failure",
    "crypto_withdrawal_reject",
    "crypto_withdrawal_send",
    "crypto_withdrawal_submit",
    "crypto_withdrawal_track",
    "custody_reconcile",
    "deposit_address_assign",
    "deposit_addresses_load",
    "network_asset_get",
]
