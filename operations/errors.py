"""Back-office rule violations, each with a stable code the API exposes."""

from core.errors import ConflictError


class WithdrawalDecidedError(ConflictError):
    code = "withdrawal_decided"
    title = "Withdrawal already approved or rejected"
