"""Crypto-rail rule violations, each with a stable code the API exposes."""

from core.errors import ConflictError, DomainError, InvalidInputError, RuleViolationError


class InvalidAddressError(InvalidInputError):
    code = "invalid_address"
    title = "Invalid address for this network"


class WrongNetworkError(InvalidInputError):
    code = "wrong_network"
    title = "The network does not carry this currency"


class NoDepositAddressError(ConflictError):
    """Manual custody: the custodian's file has no unassigned address left."""

    code = "no_deposit_address_available"
    title = "No deposit address available"


class WithdrawalFinalError(ConflictError):
    code = "withdrawal_not_cancellable"
    title = "The withdrawal can no longer be cancelled"


class WithdrawalStateError(ConflictError):
    code = "withdrawal_state"
    title = "The withdrawal is not in a state that allows this"


class ChainUnavailableError(DomainError):
    """The node could not be reached or refused a read; the work is retried on the next pass."""

    code = "chain_unavailable"
    status = 503
    title = "Chain node unavailable"


class CustodyConfigurationError(RuleViolationError):
    code = "custody_not_configured"
    title = "Custody is not configured for this network"
