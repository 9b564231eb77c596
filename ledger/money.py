"""The one place that converts between decimal amounts and integer minor units.

Parsing is exact: "0.1" BTC (scale 8) is 10_000_000 minor units; more decimal places than the
currency's scale is an error, never a rounding, however many digits the value has (the check works
on the digits themselves, not in a Decimal context that could round them). Floats are refused
outright: by the time a value is a float it may already be inexact. The API parses JSON numbers
as Decimal for this reason. Strings must match AMOUNT_PATTERN, which the OpenAPI schema publishes:
digits with an optional fraction, no sign, exponent or surrounding space ("1.", ".5", "+1" and
" 1.00 " are refused).
"""

import re
from decimal import Decimal, InvalidOperation
from typing import Protocol

from ledger.errors import InvalidAmountError

MAX_MINOR_UNITS = 2**63 - 1
AMOUNT_PATTERN = r"^[0-9]+(\.[0-9]+)?$"
_AMOUNT = re.compile(AMOUNT_PATTERN)
# Longer than any amount that fits in 64 bits with 18 places (and its trailing zeros), so a string
# this long is refused before Decimal sees it.
_MAX_AMOUNT_STRING = 200


def is_minor_units(value: object, *, signed: bool = False) -> bool:
    """The one guard for integers that services receive directly (amounts, prices as price_e8):
    an int, not a bool, within 64 bits, and positive (or non-zero of either sign when `signed`)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return False
    return 0 < abs(value) <= MAX_MINOR_UNITS if signed else 0 < value <= MAX_MINOR_UNITS


def minor_units_check(
    value: object, *, signed: bool = False, message: str = "Amount must be a positive integer number of minor units."
) -> None:
    """`is_minor_units`, raising InvalidAmountError with `message` otherwise."""
    if not is_minor_units(value, signed=signed):
        raise InvalidAmountError(message)


def to_minor_units(value: str | int | Decimal, *, scale: int) -> int:
    """Parse a positive amount into minor units for a currency of `scale` decimal places.

    Raises InvalidAmountError for anything that is not a finite, positive decimal with at most
    `scale` places that fits in a signed 64-bit integer.
    """
    amount = _to_decimal(value)
    if not amount.is_finite():
        raise InvalidAmountError("Amount must be a finite number.")
    if amount <= 0:
        raise InvalidAmountError("Amount must be greater than zero.")
    if amount.adjusted() > 19:
        raise InvalidAmountError("Amount is too large.")
    _, digits, exponent = amount.as_tuple()
    shift = int(exponent) + scale  # the power of ten that turns the digits into minor units
    if shift >= 0:
        minor = int("".join(map(str, digits))) * 10**shift
    else:
        # Exact: the digits that would fall below one minor unit must all be zero.
        if -shift > len(digits) or any(digits[shift:]):
            raise InvalidAmountError(f"Amount has more than {scale} decimal places.")
        minor = int("".join(map(str, digits[:shift])) or "0")
    return minor_units_bound(minor)


def minor_units_bound(minor: int, *, what: str = "Amount") -> int:
    """`minor` if it fits the database's signed 64-bit columns; InvalidAmountError otherwise.
    Services check every figure they compute (quantities, notionals, totals) the same way."""
    if minor > MAX_MINOR_UNITS or minor < -MAX_MINOR_UNITS:
        raise InvalidAmountError(f"{what} is too large.")
    return minor


def from_minor_units(minor: int, *, scale: int) -> str:
    """Render minor units as a decimal string with exactly `scale` places ("0.10000000")."""
    sign = "-" if minor < 0 else ""
    digits = str(abs(minor)).rjust(scale + 1, "0")
    if scale == 0:
        return f"{sign}{digits}"
    return f"{sign}{digits[:-scale]}.{digits[-scale:]}"


class CurrencyLike(Protocol):
    code: str
    scale: int


def amount_render(minor: int | None, *, currency: CurrencyLike, with_code: bool = True) -> str:
    """An amount as the API shows it, with its currency ("100500.00 USD"); "" for None.

    Every human-facing text (error messages, admin) renders amounts here, never as minor units.
    """
    if minor is None:
        return ""
    rendered = from_minor_units(minor, scale=currency.scale)
    return f"{rendered} {currency.code}" if with_code else rendered


def minor_to_decimal(minor: int, *, scale: int) -> Decimal:
    """Minor units as an exact Decimal (for price arithmetic)."""
    return Decimal(minor).scaleb(-scale)


def _to_decimal(value: str | int | Decimal) -> Decimal:
    if isinstance(value, bool | float):
        raise InvalidAmountError("Amount must be a decimal string or an exact number, not a float.")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        return value
    if isinstance(value, str):
        # Only plain decimal notation: no exponents ("1e400"), signs, spaces or "NaN".
        if len(value) > _MAX_AMOUNT_STRING or not value.isascii() or not _AMOUNT.match(value):
            raise InvalidAmountError("Amount must be a plain decimal string such as \"10.50\".")
        try:
            return Decimal(value)
        except InvalidOperation as error:  # pragma: no cover - guarded by the pattern
            raise InvalidAmountError("Amount is not a number.") from error
    raise InvalidAmountError("Amount must be a decimal string or a number.")
