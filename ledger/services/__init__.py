"""Every write to the ledger goes through these services."""

from ledger.services.accounts import (
    account_create,
    currency_authorization_grant,
    currency_authorization_revoke,
    system_account_for_posting,
    system_account_get,
    system_accounts_forget,
    user_account_get_or_create,
)
from ledger.services.adjustments import adjustment_create
from ledger.services.batches import TransferOutcome, TransferRequest, transfer_batch_create
from ledger.services.holds import hold_create, hold_release
from ledger.services.legs import Leg
from ledger.services.movements import (
    account_check_can_move,
    deposit_create,
    transfer_create,
    transfer_reverse,
    user_check_can_move,
    withdrawal_check,
    withdrawal_create,
)
from ledger.services.posting import entry_post

__all__ = [
    "Leg",
    "account_check_can_move",
    "account_create",
    "adjustment_create",
    "currency_authorization_grant",
    "currency_authorization_revoke",
    "deposit_create",
    "entry_post",
    "hold_create",
    "hold_release",
    "system_account_for_posting",
    "system_account_get",
    "system_accounts_forget",
    "TransferOutcome",
    "TransferRequest",
    "transfer_batch_create",
    "transfer_create",
    "transfer_reverse",
    "user_account_get_or_create",
    "user_check_can_move",
    "withdrawal_check",
    "withdrawal_create",
]
