"""Ledger rule violations, each with a stable code the API exposes."""

from core.errors import (
    ConflictError,
    DomainError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    RuleViolationError,
)


class InvalidAmountError(InvalidInputError):
    code = "invalid_amount"
    title = "Invalid amount"


class UnknownCurrencyError(InvalidInputError):
    code = "unknown_currency"
    title = "Unknown currency"


class AccountNotFoundError(NotFoundError):
    code = "account_not_found"
    title = "Account not found"


class InsufficientFundsError(RuleViolationError):
    code = "insufficient_funds"
    title = "Insufficient funds"


class CurrencyMismatchError(RuleViolationError):
    code = "currency_mismatch"
    title = "Currencies do not match"


class SameAccountError(RuleViolationError):
    code = "same_account"
    title = "Source and destination are the same account"


class InactiveAccountError(RuleViolationError):
    code = "inactive_account"
    title = "Account or its owner is inactive"


class NotAUserAccountError(RuleViolationError):
    """Deposits, withdrawals and transfers move users' money; system accounts move only as
    the other side of those entries."""

    code = "not_a_user_account"
    title = "Not a user account"


class UserFrozenError(RuleViolationError):
    code = "user_frozen"
    title = "User is frozen"


class CurrencyNotAuthorizedError(PermissionDeniedError):
    code = "currency_not_authorized"
    title = "Currency not authorized for this user"


class NotReversibleError(RuleViolationError):
    code = "not_reversible"
    title = "This entry cannot be reversed"


class AlreadyReversedError(ConflictError):
    code = "already_reversed"
    title = "Already reversed"


class AlreadyExistsError(ConflictError):
    code = "already_exists"
    title = "Already exists"


class HoldNotActiveError(ConflictError):
    code = "hold_not_active"
    title = "Hold is no longer active"


class UnbalancedEntryError(RuleViolationError):
    """A programming error: a service built legs that do not sum to zero per currency."""

    code = "unbalanced_entry"
    title = "Journal entry does not balance"


class BatchItemRefusedError(RuleViolationError):
    """An all-or-none batch refused as a whole because one of its transfers was."""

    code = "batch_item_refused"
    title = "A transfer of the batch was refused; none was applied"

    def __init__(self, *, index: int, error: DomainError):
        self.index = index
        self.error = error
        super().__init__(
            f"Transfer {index} was refused ({error.code}): {error.detail}",
            errors={"index": index, "code": error.code, "status": error.status, "detail": error.detail},
        )


class SnapshotDayNotOverError(InvalidInputError):
    code = "snapshot_day_not_over"
    title = "The day has not ended yet"


class InvalidPeriodError(InvalidInputError):
    code = "invalid_period"
    title = "Invalid period"
