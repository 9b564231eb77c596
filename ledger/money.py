"""The one place that converts between decimal amounts and integer minor units.

Parsing is exact: "0.1" BTC (scale 8) is 10_000_000 minor units; more decimal places than the
currency's scale is an error, never a rounding. Floats are refused outright: by the time a value
is a float it may already be inexact. The API parses JSON numbers as Decimal for this reason.
"""

from decimal import Decimal, InvalidOperation, localcontext
from typing import Protocol

from ledger.errors import InvalidAmountError

MAX_MINOR_UNITS = 2**63 - 1


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
    with localcontext() as context:
        # Enough precision that scaling never rounds: 20 integer digits + up to 18 places.
        context.prec = 60
        scaled = amount.scaleb(scale)
        if scaled != scaled.to_integral_value():
            raise InvalidAmountError(f"Amount has more than {scale} decimal places.")
    minor = int(scaled)
    if minor > MAX_MINOR_UNITS:
        raise InvalidAmountError("Amount is too large.")
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
        text = value.strip()
        # Only plain decimal notation: no exponents ("1e400"), no signs games, no "NaN".
        if not text or len(text) > 60 or not _is_plain_decimal(text):
            raise InvalidAmountError("Amount must be a plain decimal string such as \"10.50\".")
        try:
            return Decimal(text)
        except InvalidOperation as error:  # pragma: no cover - guarded by _is_plain_decimal
            raise InvalidAmountError("Amount is not a number.") from error
    raise InvalidAmountError("Amount must be a decimal string or a number.")


def _is_plain_decimal(text: str) -> bool:
    body = text[1:] if text[0] in "+-" else text
    whole, _, fraction = body.partition(".")
    if not whole and not fraction:
        return False
    return (whole.isdigit() or whole == "") and (fraction.isdigit() or fraction == "") and body.isascii()
