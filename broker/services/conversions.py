"""Conversions: one currency into another at the current rates, in one journal entry.

The entry never posts an FX rate: it is two same-currency pairs of legs through the client's
inventory accounts (user → inventory in the source currency, inventory → user in the target),
plus the fee in USD from the user to fee revenue. All of it is written, or none of it.
"""

from django.db import transaction

from accounts.models import User
from broker.errors import QuantityTooSmallError, SameCurrencyError
from broker.models import Conversion
from broker.pricing import ROUND_FLOOR, divide, fee_for_notional, notional_for_quantity
from broker.selectors import settlement_price_get
from broker.services.currencies import currency_check_offered_and_authorized
from events.services import event_record
from ledger.models import Account, Currency, JournalEntry
from ledger.money import minor_units_bound, minor_units_check
from ledger.selectors import settlement_currency
from ledger.services import (
    Leg,
    account_check_can_move,
    entry_post,
    system_account_get,
    user_account_get_or_create,
    user_check_can_move,
)


def conversion_create(*, user: User, from_currency: Currency, to_currency: Currency, amount: int) -> Conversion:
    """Convert `amount` (minor units of `from_currency`) into `to_currency`.

    Figures: usd_value = amount at the source's USD price (rounded down); to_amount = amount ×
    from_price / to_price in the target's minor units, rounded down (the fraction stays with the
    platform); fee = the client's fee_bps of usd_value, rounded up, charged in USD (so converting
    between two non-USD currencies needs the fee available in USD).
    Locks: the accounts of the entry in primary-key order (entry_post).
    Raises InvalidAmountError, SameCurrencyError, CurrencyNotOfferedError,
    CurrencyNotAuthorizedError, RateUnavailableError, QuantityTooSmallError,
    InsufficientFundsError, InactiveAccountError, UserFrozenError.
    """
    minor_units_check(amount)
    if from_currency.code == to_currency.code:
        raise SameCurrencyError(f"Cannot convert {from_currency.code} into itself.")
    user_check_can_move(user=user)
    currency_check_offered_and_authorized(user=user, currency=from_currency)
    currency_check_offered_and_authorized(user=user, currency=to_currency)
    usd = settlement_currency()
    from_price_e8 = settlement_price_get(currency_code=from_currency.code)
    to_price_e8 = settlement_price_get(currency_code=to_currency.code)
    usd_value = notional_for_quantity(
        quantity=amount, quantity_scale=from_currency.scale, price_e8=from_price_e8, settlement_scale=usd.scale,
        rounding=ROUND_FLOOR,
    )
    to_amount = divide(
        amount * from_price_e8 * 10**to_currency.scale,
        to_price_e8 * 10**from_currency.scale,
        rounding=ROUND_FLOOR,
    )
    minor_units_bound(to_amount, what="The converted amount")
    minor_units_bound(usd_value, what="The USD value")
    fee_bps = user.client.fee_bps
    fee = fee_for_notional(notional=usd_value, fee_bps=fee_bps)
    if to_amount <= 0 or usd_value <= 0:
        raise QuantityTooSmallError("The amount is too small to convert at these rates.")
    if to_currency.code == usd.code and to_amount <= fee:
        raise QuantityTooSmallError("The amount is too small to convert after fees.")

    with transaction.atomic():
        user_from = user_account_get_or_create(user=user, currency=from_currency)
        user_to = user_account_get_or_create(user=user, currency=to_currency)
        user_usd = user_account_get_or_create(user=user, currency=usd)
        for account in {user_from.pk: user_from, user_to.pk: user_to, user_usd.pk: user_usd}.values():
            account_check_can_move(account=account)
        client_id = user.client_id
        legs = [
            Leg(user_from, -amount),
            Leg(system_account_get(client=client_id, currency=from_currency, kind=Account.Kind.INVENTORY), amount),
            Leg(system_account_get(client=client_id, currency=to_currency, kind=Account.Kind.INVENTORY), -to_amount),
            Leg(user_to, to_amount),
        ]
        if fee:
            legs += [
                Leg(user_usd, -fee),
                Leg(system_account_get(client=client_id, currency=usd, kind=Account.Kind.FEE_REVENUE), fee),
            ]
        entry = entry_post(
            client_id=client_id,
            kind=JournalEntry.Kind.CONVERSION,
            legs=_merge_legs(legs),
            reference=f"conversion:{from_currency.code}->{to_currency.code}",
            metadata={"from_price_e8": from_price_e8, "to_price_e8": to_price_e8},
        )
        conversion = Conversion.objects.create(
            client_id=client_id,
            user=user,
            from_currency=from_currency,
            to_currency=to_currency,
            from_amount=amount,
            to_amount=to_amount,
            from_price_e8=from_price_e8,
            to_price_e8=to_price_e8,
            usd_value=usd_value,
            fee_bps=fee_bps,
            fee=fee,
            entry=entry,
        )
        event_record(type="conversion.created", obj=conversion)
        return conversion


def _merge_legs(legs: list[Leg]) -> list[Leg]:
    """One leg per account: converting from or to USD puts the fee on the same USD account."""
    totals: dict[int, int] = {}
    accounts: dict[int, Account] = {}
    for leg in legs:
        totals[leg.account.pk] = totals.get(leg.account.pk, 0) + leg.amount
        accounts[leg.account.pk] = leg.account
    return [Leg(accounts[pk], amount) for pk, amount in totals.items() if amount]

