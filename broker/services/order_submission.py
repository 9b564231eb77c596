"""Order submission: validate an `OrderRequest`, hold its funds, and schedule its execution.

The API only accepts an order (`order_submit`); the worker runs `order_execute`
(`broker.services.order_execution`). A quote is locked before the order exists, here only;
the held account is locked by the one guarded UPDATE in `hold_create`.
"""

import contextlib
import dataclasses
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User
from broker.errors import DuplicateClientOrderIdError, InvalidOrderError, QuoteMismatchError, RateUnavailableError
from broker.models import Order, Quote, Side
from broker.pricing import price_with_slippage
from broker.services.market import (
    trade_check_currency,
    trade_check_side,
    trade_check_size,
)
from broker.services.quotes import quote_claim
from broker.services.scheduling import order_execution_schedule
from broker.services.trades import trade_terms
from core.compiled import CompiledQuery, row_create
from events.services import event_record
from ledger.models import Account, Currency
from ledger.money import is_minor_units
from ledger.selectors import settlement_currency
from ledger.services import (
    account_check_can_move,
    hold_create,
    user_account_get_or_create,
    user_check_can_move,
)


@dataclass(frozen=True)
class OrderRequest:
    """One order as the client asked for it: amounts in minor units, prices in USD × 10^8.

    A market order is sized by exactly one of `quantity` or `usd_amount`, or filled at a quote
    (`quote_id`, its size then optional); limit and stop orders are sized by `quantity` and carry
    `limit_price_e8` / `stop_price_e8`. `order_submit` checks the shape.
    """

    user: User
    side: str
    currency: Currency
    type: str = Order.Type.MARKET
    quantity: int | None = None
    usd_amount: int | None = None
    limit_price_e8: int | None = None
    stop_price_e8: int | None = None
    quote_id: int | None = None
    time_in_force: str = Order.TimeInForce.GTC
    expires_at: datetime | None = None
    client_order_id: str | None = None


def order_submit(*, request: OrderRequest) -> Order:
    """Accept an order: validate it, hold its funds, and schedule its execution after commit.

    Holds (reducing `available`, so concurrent orders can never spend the same money twice):
    - buy: USD for notional + fee at the limit price, the quote's total, or for a market/stop
      order at the current (or stop) price moved up by MARKET_ORDER_SLIPPAGE_BPS;
    - sell: the quantity of the currency (for a market sell sized in USD, the quantity at the
      current price moved down by the slippage margin).
    Everything (quote claim, hold, order row, `order.accepted` event) is written in one
    transaction, or nothing is. The hold is written first and the order inserted with it. Inside a
    caller's transaction (the API's idempotent request) a savepoint is taken only when the order
    could be refused after a write (`_submission_transaction`).
    Locks: the quote row, then the held account (one guarded UPDATE in hold_create).
    Raises InvalidOrderError, InvalidAmountError, InvalidPriceError, QuoteMismatchError,
    QuoteNotFoundError, QuoteExpiredError, QuoteUsedError, CurrencyNotOfferedError,
    CurrencyNotAuthorizedError, CurrencyNotTradableError, RateUnavailableError,
    QuantityTooSmallError, InsufficientFundsError, InactiveAccountError, UserFrozenError,
    DuplicateClientOrderIdError.
    """
    user, currency = request.user, request.currency
    _check_shape(request=request, now=timezone.now())
    user_check_can_move(user=user)
    current_price_e8 = trade_check_currency(user=user, currency=currency)
    usd = settlement_currency()
    fee_bps = user.client.fee_bps
    accounts = _user_accounts_find(user=user, currency=currency)
    with _submission_transaction(request=request, opens_accounts=len(accounts) < 2):
        quote = None
        if request.quote_id is not None:
            quote = quote_claim(quote_id=request.quote_id, user=user)
            if quote.side != request.side or quote.currency_id != currency.code:
                raise QuoteMismatchError("The order's side and currency must be the quote's.")
            if (request.quantity is not None and request.quantity != quote.quantity) or (
                request.usd_amount is not None and request.usd_amount != quote.usd_amount
            ):
                raise QuoteMismatchError("The order's size must be the quote's (or omitted).")
            # A quoted order is sized by the quote's quantity, at the quote's fee.
            request = dataclasses.replace(request, quantity=quote.quantity, usd_amount=None)
            fee_bps = quote.fee_bps
        user_usd = accounts.get(usd.code) or user_account_get_or_create(user=user, currency=usd)
        user_currency = accounts.get(currency.code) or user_account_get_or_create(user=user, currency=currency)
        # trade_check_currency has just checked the authorization for the currency.
        account_check_can_move(account=user_usd, check_authorization=False)
        account_check_can_move(account=user_currency, check_authorization=False)
        hold_account, hold_amount = _hold_terms(
            request=request,
            quote=quote,
            usd=usd,
            fee_bps=fee_bps,
            user_usd=user_usd,
            user_currency=user_currency,
            current_price_e8=current_price_e8,
        )
        # The hold first, so the order is inserted with it; the order points at its hold.
        hold = hold_create(
            account=hold_account, amount=hold_amount, reason=f"{request.type} {request.side} order in {currency.code}"
        )
        order_fields = dict(
            client_id=user.client_id,
            user=user,
            client_order_id=request.client_order_id or None,
            side=request.side,
            type=request.type,
            time_in_force=request.time_in_force,
            currency=currency,
            quantity=request.quantity,
            usd_amount=request.usd_amount,
            limit_price_e8=request.limit_price_e8,
            stop_price_e8=request.stop_price_e8,
            quote=quote,
            fee_bps=fee_bps,
            hold=hold,
            expires_at=request.expires_at,
        )
        order = _order_insert(fields=order_fields) if request.client_order_id else row_create(Order, **order_fields)
        event_record(type="order.accepted", obj=order)
        order_execution_schedule(order_id=order.pk)
    return order


def _submission_transaction(*, request: OrderRequest, opens_accounts: bool) -> AbstractContextManager:
    """The order's transaction: its own, or the caller's (the API's idempotent request) without a
    savepoint when nothing can be refused after the first write.

    An order on existing accounts, without a quote or client_order_id, is last refused by the
    hold's guarded UPDATE changing nothing, before any write: a refusal leaves the caller's
    transaction as it was. An order that opens an account, claims a quote (before the quote's
    checks) or names a client_order_id (refused on insert as a duplicate) can be refused after a
    write, and takes a savepoint to undo it.
    """
    may_refuse_after_a_write = opens_accounts or request.quote_id is not None or bool(request.client_order_id)
    if not may_refuse_after_a_write and transaction.get_connection().in_atomic_block:
        return contextlib.nullcontext()
    return transaction.atomic()


def _order_insert(*, fields: dict) -> Order:
    """Insert an order with a client_order_id; DuplicateClientOrderIdError when the client used it."""
    try:
        with transaction.atomic():
            return Order.objects.create(**fields)
    except IntegrityError:
        client_order_id = fields["client_order_id"]
        if Order.objects.filter(client_id=fields["client_id"], client_order_id=client_order_id).exists():
            raise DuplicateClientOrderIdError(f"client_order_id {client_order_id!r} is already used.") from None
        raise


def _user_accounts_find(*, user: User, currency: Currency) -> dict[str, Account]:
    """The user's settlement and `currency` accounts that exist, by currency code, in one statement."""
    accounts = _USER_ACCOUNTS.fetch(user_id=user.pk, currency_codes=[settings.SETTLEMENT_CURRENCY, currency.code])
    found = {account.currency_id: account for account in accounts}
    for account in found.values():
        account.user = user
    return found


def _user_accounts(shape: None, *, user_id: int, currency_codes: list[str]) -> QuerySet[Account]:
    return Account.objects.filter(user_id=user_id, currency_id__in=currency_codes)


# Read on every order: compiled once per process (core.compiled).
_USER_ACCOUNTS = CompiledQuery(_user_accounts)


def _check_shape(*, request: OrderRequest, now: datetime) -> None:
    trade_check_side(side=request.side)
    if request.type not in Order.Type.values:
        raise InvalidOrderError(f"type must be one of {', '.join(Order.Type.values)}.")
    if request.time_in_force not in Order.TimeInForce.values:
        raise InvalidOrderError(f"time_in_force must be one of {', '.join(Order.TimeInForce.values)}.")
    if request.quote_id is not None:
        if request.type != Order.Type.MARKET:
            raise InvalidOrderError("An order with a quote is a market order.")
        if request.quantity is not None and request.usd_amount is not None:
            raise InvalidOrderError("Give at most one of quantity or usd_amount.")
    else:
        trade_check_size(quantity=request.quantity, usd_amount=request.usd_amount)
    if request.usd_amount is not None and request.type != Order.Type.MARKET:
        raise InvalidOrderError("Limit and stop orders are sized by quantity.")
    if (request.limit_price_e8 is not None) != (request.type == Order.Type.LIMIT):
        raise InvalidOrderError("limit_price is required for limit orders and only allowed on them.")
    if (request.stop_price_e8 is not None) != (request.type == Order.Type.STOP):
        raise InvalidOrderError("stop_price is required for stop orders and only allowed on them.")
    for price in (request.limit_price_e8, request.stop_price_e8):
        if price is None:
            continue
        if not is_minor_units(price):
            raise InvalidOrderError("Prices must be positive.")
    if request.type == Order.Type.STOP and request.time_in_force == Order.TimeInForce.IOC:
        raise InvalidOrderError("A stop order rests until triggered; it cannot be immediate-or-cancel.")
    if request.expires_at is not None and request.expires_at <= now:
        raise InvalidOrderError("expires_at must be in the future.")


def _hold_terms(
    *,
    request: OrderRequest,
    quote: Quote | None,
    usd: Currency,
    fee_bps: int,
    user_usd: Account,
    user_currency: Account,
    current_price_e8: int | None,
) -> tuple[Account, int]:
    """Which account to hold and how much: enough to cover the fill at the worst accepted price
    (`current_price_e8`: the rate read with the currency's checks, None when there is none)."""
    side, currency = request.side, request.currency
    if quote is not None:
        return (user_usd, quote.total) if side == Side.BUY else (user_currency, quote.quantity)
    slippage_bps = settings.MARKET_ORDER_SLIPPAGE_BPS
    if request.type == Order.Type.LIMIT:
        worst_price = request.limit_price_e8
    else:
        current = _price_or_raise(current_price_e8, currency=currency)
        if request.type == Order.Type.STOP:
            # A stop fills at the rate when it triggers, which may gap past the stop price.
            stop_price_e8 = request.stop_price_e8
            current = max(current, stop_price_e8) if side == Side.BUY else min(current, stop_price_e8)
        worst_price = price_with_slippage(price_e8=current, slippage_bps=slippage_bps, upward=side == Side.BUY)
    if side == Side.SELL:
        # The size check at the current price: a sale too small to cover its fee is refused now.
        terms = trade_terms(
            side=side, currency=currency, usd=usd, price_e8=max(worst_price, 1), fee_bps=fee_bps,
            quantity=request.quantity, usd_amount=request.usd_amount,
        )
        return user_currency, terms.quantity
    if request.usd_amount is not None:
        # Sized in USD: the notional is fixed, only the quantity depends on the price.
        terms = trade_terms(
            side=side, currency=currency, usd=usd, price_e8=_price_or_raise(current_price_e8, currency=currency),
            fee_bps=fee_bps, usd_amount=request.usd_amount,
        )
        return user_usd, terms.total
    terms = trade_terms(
        side=side, currency=currency, usd=usd, price_e8=worst_price, fee_bps=fee_bps, quantity=request.quantity
    )
    return user_usd, terms.total


def _price_or_raise(price_e8: int | None, *, currency: Currency) -> int:
    if price_e8 is None:
        raise RateUnavailableError(f"There is no rate for {currency.code}.")
    return price_e8
