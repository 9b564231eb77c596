"""Brokerage rule violations, each with a stable code the API exposes."""

from core.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError, RuleViolationError


class CurrencyNotOfferedError(PermissionDeniedError):
    code = "currency_not_offered"
    title = "Currency not offered by this client"


class CurrencyNotTradableError(RuleViolationError):
    code = "currency_not_tradable"
    title = "Currency cannot be traded against the settlement currency"


class SettlementCurrencyError(RuleViolationError):
    code = "settlement_currency"
    title = "The settlement currency is always authorized and has no rate"


class RateUnavailableError(RuleViolationError):
    code = "rate_unavailable"
    title = "No rate for this currency"


class InvalidPriceError(InvalidInputError):
    code = "invalid_price"
    title = "Invalid price"


class InvalidOrderError(InvalidInputError):
    code = "invalid_order"
    title = "Invalid order"


class QuantityTooSmallError(RuleViolationError):
    code = "quantity_too_small"
    title = "Amount too small to trade"


class UserNotFoundError(NotFoundError):
    code = "user_not_found"
    title = "User not found"


class QuoteNotFoundError(NotFoundError):
    code = "quote_not_found"
    title = "Quote not found"


class QuoteExpiredError(ConflictError):
    code = "quote_expired"
    title = "Quote expired"


class QuoteUsedError(ConflictError):
    code = "quote_used"
    title = "Quote already used"


class QuoteMismatchError(InvalidInputError):
    code = "quote_mismatch"
    title = "Order does not match its quote"


class OrderNotFoundError(NotFoundError):
    code = "order_not_found"
    title = "Order not found"


class OrderFinalError(ConflictError):
    code = "order_final"
    title = "Order is already final"


class DuplicateClientOrderIdError(ConflictError):
    code = "duplicate_client_order_id"
    title = "client_order_id already used"


class SameCurrencyError(RuleViolationError):
    code = "same_currency"
    title = "Cannot convert a currency into itself"


class PriceMovedError(RuleViolationError):
    """The price at execution is outside what the order's hold covers (its slippage margin)."""

    code = "price_moved"
    title = "Price moved beyond the order's margin"
