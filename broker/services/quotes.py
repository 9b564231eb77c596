"""Quotes: a firm price for one trade, valid for QUOTE_TTL_SECONDS and usable by one order."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from broker.errors import QuoteExpiredError, QuoteNotFoundError, QuoteUsedError
from broker.models import Quote
from broker.selectors import settlement_price_get
from broker.services.market import (
    trade_check_currency,
    trade_check_side,
    trade_check_size,
)
from broker.services.trades import trade_terms
from events.services import event_record
from ledger.models import Currency
from ledger.selectors import settlement_currency
from ledger.services import user_check_can_move


def quote_create(
    *,
    user: User,
    side: str,
    currency: Currency,
    quantity: int | None = None,
    usd_amount: int | None = None,
) -> Quote:
    """Price a trade at the current rate and the client's fee; writes only the quote (no hold) and
    its `quote.created` event.

    Raises InvalidOrderError (side, or not exactly one of quantity / usd_amount),
    CurrencyNotOfferedError, CurrencyNotAuthorizedError, CurrencyNotTradableError,
    RateUnavailableError, QuantityTooSmallError, InactiveAccountError, UserFrozenError.
    """
    trade_check_side(side=side)
    trade_check_size(quantity=quantity, usd_amount=usd_amount)
    user_check_can_move(user=user)
    trade_check_currency(user=user, currency=currency)
    price_e8 = settlement_price_get(currency_code=currency.code)
    terms = trade_terms(
        side=side,
        currency=currency,
        usd=settlement_currency(),
        price_e8=price_e8,
        fee_bps=user.client.fee_bps,
        quantity=quantity,
        usd_amount=usd_amount,
    )
    with transaction.atomic():
        quote = Quote.objects.create(
            client_id=user.client_id,
            user=user,
            side=side,
            currency=currency,
            quantity=terms.quantity,
            price_e8=terms.price_e8,
            usd_amount=terms.notional,
            fee_bps=user.client.fee_bps,
            fee=terms.fee,
            total=terms.total,
            expires_at=timezone.now() + timedelta(seconds=settings.QUOTE_TTL_SECONDS),
        )
        event_record(type="quote.created", obj=quote)
    return quote


def quote_claim(*, quote_id: int, user: User) -> Quote:
    """Mark the user's quote used, once. Call inside the transaction that creates its order.

    Locks: the quote row. The guarded update (`used_at IS NULL`) and Order.quote being one-to-one
    make a second claim fail even without the lock.
    Raises QuoteNotFoundError (not this user's), QuoteExpiredError, QuoteUsedError.
    """
    now = timezone.now()
    with transaction.atomic():
        quote = Quote.objects.select_for_update().filter(pk=quote_id, user=user).first()
        if quote is None:
            raise QuoteNotFoundError(f"Quote {quote_id} not found.")
        if quote.used_at is not None:
            raise QuoteUsedError(f"Quote {quote.pk} has already been used.")
        if quote.expires_at <= now:
            raise QuoteExpiredError(f"Quote {quote.pk} expired at {quote.expires_at.isoformat()}.")
        if Quote.objects.filter(pk=quote.pk, used_at__isnull=True).update(used_at=now) != 1:
            raise QuoteUsedError(f"Quote {quote.pk} has already been used.")
        quote.used_at = now
        return quote
