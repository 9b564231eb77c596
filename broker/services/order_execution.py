"""Order execution: execute (fill at most once), cancel, evaluate, sweep.

Orders arrive through `order_submit` (`broker.services.order_submission`), which holds their funds
and schedules `order_execute` for the worker. Execution is idempotent: it locks the order row and
checks the status in the same transaction as the fill, so running it twice, concurrently or after
a crash mid-way, fills an order at most once.

Lock order everywhere: the order row, then ledger accounts in primary-key order (entry_post,
hold_release).
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, Q, QuerySet
from django.utils import timezone

from accounts.models import User
from audit.services import audit_record
from broker.errors import (
    OrderFinalError,
    OrderNotFoundError,
    PriceMovedError,
    RateUnavailableError,
)
from broker.models import Order, Side
from broker.selectors import settlement_price_find, settlement_price_subquery
from broker.services.trades import TradeTerms, trade_legs, trade_terms
from core.compiled import CompiledQuery, row_update
from core.errors import DomainError
from events.services import event_record
from ledger.errors import CurrencyNotAuthorizedError
from ledger.models import Account, CurrencyAuthorization, Hold, JournalEntry
from ledger.money import amount_render
from ledger.selectors import settlement_currency
from ledger.services import (
    account_check_can_move,
    entry_post,
    hold_release,
    system_account_for_posting,
)

logger = logging.getLogger(__name__)


def order_execute(*, order_id: int) -> Order:
    """Run an order once: fill it, leave it resting (`open`), or close it. Idempotent.

    Market orders fill at the current rate (a quoted order at the quote's price); limit buys fill
    when the rate ≤ limit and limit sells when ≥ limit, at the current rate; a stop buy triggers
    when the rate ≥ stop and a stop sell when ≤ stop, then fills as a market order. An
    immediate-or-cancel order that cannot fill now expires.
    Invariants: one fill = one `trade` journal entry that captures the order's hold in the same
    update; an order leaves `submitted`/`open` exactly once, with its event (`order.opened`,
    `order.filled`, `order.rejected`, `order.expired`) in the same transaction. Rejections at execution (price moved
    past the hold, authorization revoked, user frozen …) release the hold and record the reason.
    Locks: the order row (select_for_update, status checked under it), then the accounts.
    Raises OrderNotFoundError.
    """
    with transaction.atomic():
        # One statement: the order row locked (only it: `of=("self",)`) with what execution reads
        # alongside it: its hold, currency, user and quote, and the currency's current price.
        # After a wait for the lock PostgreSQL re-reads the order row but not the joined ones,
        # which are as of the statement's start. For the hold that is safe: it only changes when
        # the order becomes final (fill, cancel, expiry, all under this lock), and a final order
        # returns below. The user and the price are not locked by anyone, as when read apart.
        order = next(iter(_ORDER_FOR_EXECUTION.fetch(order_id=order_id)), None)
        if order is None:
            raise OrderNotFoundError(f"Order {order_id} not found.")
        if order.is_final:
            return order
        now = timezone.now()
        if order.expires_at is not None and order.expires_at <= now:
            return _order_close(order=order, status=Order.Status.EXPIRED, reason="expired", now=now)
        if order.quote_id is not None:
            return _order_fill(order=order, price_e8=order.quote.price_e8, now=now)
        price_e8: int | None = order.current_price_e8  # the query's annotation
        if price_e8 is None:
            if order.type == Order.Type.MARKET:
                return _order_close(
                    order=order, status=Order.Status.REJECTED, reason=RateUnavailableError.code, now=now
                )
            return _order_rest(order=order)
        if order.type == Order.Type.MARKET:
            return _order_fill(order=order, price_e8=price_e8, now=now)
        if order.type == Order.Type.STOP:
            if not _stop_is_triggered(order=order, price_e8=price_e8):
                return _order_rest(order=order)
            order.triggered_at = now
            return _order_fill(order=order, price_e8=price_e8, now=now)
        if _limit_is_crossed(order=order, price_e8=price_e8):
            return _order_fill(order=order, price_e8=price_e8, now=now)
        if order.time_in_force == Order.TimeInForce.IOC:
            return _order_close(order=order, status=Order.Status.EXPIRED, reason="ioc_not_filled", now=now)
        return _order_rest(order=order)


def _order_for_execution(shape: None, *, order_id: int) -> QuerySet[Order]:
    return (
        Order.objects.select_for_update(of=("self",))
        .select_related("hold", "currency", "user", "quote")
        .annotate(current_price_e8=settlement_price_subquery(currency_field="currency_id"))
        .filter(pk=order_id)
        .order_by("pk")[:1]
    )


# Run on every fill: Django compiled it anew each time, more CPU than the statement (core.compiled).
_ORDER_FOR_EXECUTION = CompiledQuery(_order_for_execution)


def order_cancel(*, order: Order, actor: User | None = None) -> Order:
    """Cancel an order that is not final and release its hold.

    Writes one `broker.order_cancel` audit event in the same transaction (`actor`: the person who
    asked, None for an API key or the system).
    Locks: the order row, then the held account. Raises OrderFinalError (filled, rejected,
    cancelled or expired: nothing changes).
    """
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if locked.is_final:
            raise OrderFinalError(f"Order {locked.pk} is already {locked.status}.")
        before = locked.status
        cancelled = _order_close(order=locked, status=Order.Status.CANCELLED, reason="", now=timezone.now())
        audit_record(
            actor=actor, action="broker.order_cancel", obj=cancelled,
            before={"status": before}, after={"status": cancelled.status},
        )
        return cancelled


def orders_evaluate(*, currency_code: str) -> int:
    """Execute the resting orders in `currency_code` that the current rate crosses, oldest first.

    Each runs in its own transaction through `order_execute`, which re-reads the rate and the
    order under its lock, so a stale candidate list is harmless. Returns how many were run.
    """
    price_e8 = settlement_price_find(currency_code=currency_code)
    if price_e8 is None:
        return 0
    crossed = (
        Q(type=Order.Type.LIMIT, side=Side.BUY, limit_price_e8__gte=price_e8)
        | Q(type=Order.Type.LIMIT, side=Side.SELL, limit_price_e8__lte=price_e8)
        | Q(type=Order.Type.STOP, side=Side.BUY, stop_price_e8__lte=price_e8)
        | Q(type=Order.Type.STOP, side=Side.SELL, stop_price_e8__gte=price_e8)
    )
    order_ids = list(
        Order.objects.filter(status=Order.Status.OPEN, currency_id=currency_code)
        .filter(crossed)
        .order_by("id")
        .values_list("pk", flat=True)
    )
    return _execute_each(order_ids)


def orders_sweep(*, stale_after: timedelta) -> dict[str, int]:
    """Recover what the queue may have lost: run orders left `submitted` longer than `stale_after`,
    expire active orders past `expires_at`, and re-evaluate every currency with resting orders.

    Safe to run at any time and in parallel with workers (every step is `order_execute`).
    """
    now = timezone.now()
    stale = Order.objects.filter(status=Order.Status.SUBMITTED, created_at__lte=now - stale_after)
    expired = Order.objects.filter(status__in=Order.ACTIVE_STATUSES, expires_at__lte=now)
    counts = {
        "stale": _execute_each(list(stale.order_by("id").values_list("pk", flat=True))),
        "expired": _execute_each(list(expired.order_by("id").values_list("pk", flat=True))),
        "evaluated": 0,
    }
    currencies = Order.objects.filter(status=Order.Status.OPEN).values_list("currency_id", flat=True).distinct()
    for currency_code in sorted(set(currencies)):
        counts["evaluated"] += orders_evaluate(currency_code=currency_code)
    return counts


def _execute_each(order_ids: list[int]) -> int:
    for order_id in order_ids:
        try:
            order_execute(order_id=order_id)
        except Exception:
            # One bad order must not stop the others; the sweeper retries it later.
            logger.exception("order_execute failed", extra={"order_id": order_id})
    return len(order_ids)


def _fill_terms(*, order: Order, price_e8: int) -> TradeTerms:
    quote = order.quote
    if quote is not None:
        return TradeTerms(
            quantity=quote.quantity, price_e8=quote.price_e8, notional=quote.usd_amount, fee=quote.fee, side=quote.side
        )
    return trade_terms(
        side=order.side,
        currency=order.currency,
        usd=settlement_currency(),
        price_e8=price_e8,
        fee_bps=order.fee_bps,
        quantity=order.quantity,
        usd_amount=order.usd_amount,
    )


def _order_fill(*, order: Order, price_e8: int, now: datetime) -> Order:
    """Book the fill as one trade entry capturing the hold, or reject the order with a reason."""
    hold = order.hold
    if hold is None:
        raise ValueError(f"Order {order.pk} has no hold: every accepted order holds its funds.")
    try:
        terms = _fill_terms(order=order, price_e8=price_e8)
        needed = terms.total if order.side == Side.BUY else terms.quantity
        if needed > hold.amount:
            held_in = settlement_currency() if order.side == Side.BUY else order.currency
            raise PriceMovedError(
                f"The fill needs {amount_render(needed, currency=held_in)} but the order holds "
                f"{amount_render(hold.amount, currency=held_in)}."
            )
        user_usd, user_currency = _user_accounts_checked(order=order)
        usd_code, client_id = settings.SETTLEMENT_CURRENCY, order.client_id
        legs = trade_legs(
            terms=terms,
            user_usd=user_usd,
            user_currency=user_currency,
            inventory_usd=system_account_for_posting(
                client_id=client_id, currency_code=usd_code, kind=Account.Kind.INVENTORY
            ),
            inventory_currency=system_account_for_posting(
                client_id=client_id, currency_code=order.currency_id, kind=Account.Kind.INVENTORY
            ),
            fee_revenue=system_account_for_posting(
                client_id=client_id, currency_code=usd_code, kind=Account.Kind.FEE_REVENUE
            ),
        )
        # A buy's captured hold stops holding the whole held amount while the debit is the actual
        # cost: the unused slippage margin simply becomes available again.
        entry = entry_post(
            client_id=order.client_id,
            kind=JournalEntry.Kind.TRADE,
            legs=legs,
            reference=f"order:{order.pk}",
            metadata={"order_id": order.pk, "side": order.side, "price_e8": terms.price_e8},
            captured_holds=[hold],
        )
    except DomainError as error:
        # entry_post's savepoint rolled back whatever it wrote; the order and hold are untouched.
        return _order_close(order=order, status=Order.Status.REJECTED, reason=error.code, now=now)
    return _order_record_fill(order=order, terms=terms, entry=entry, now=now)


def _user_accounts_checked(*, order: Order) -> tuple[Account, Account]:
    """The user's settlement and traded-currency accounts, in one statement with whether the user
    is still authorized for the currency; raises as `account_check_can_move` would."""
    found = _USER_ACCOUNTS_AUTHORIZED.fetch(
        user_id=order.user_id, currency_code=order.currency_id,
        currency_codes=[settings.SETTLEMENT_CURRENCY, order.currency_id],
    )
    accounts = {account.currency_id: account for account in found}
    user_usd, user_currency = accounts.get(settings.SETTLEMENT_CURRENCY), accounts.get(order.currency_id)
    if user_usd is None or user_currency is None:
        # order_submit opened both; accounts are never deleted.
        raise Account.DoesNotExist(f"Order {order.pk}'s user has no {order.currency_id} or USD account.")
    for account in (user_usd, user_currency):
        account.user = order.user  # read with the order, under its lock
        account_check_can_move(account=account, check_authorization=False)
    if not user_currency.is_authorized:  # the query's annotation
        raise CurrencyNotAuthorizedError(f"User {order.user_id} is not authorized for {order.currency_id}.")
    return user_usd, user_currency


def _user_accounts_authorized(
    shape: None, *, user_id: int, currency_code: str, currency_codes: list[str]
) -> QuerySet[Account]:
    authorized = CurrencyAuthorization.objects.filter(user_id=user_id, currency_id=currency_code)
    return Account.objects.filter(user_id=user_id, currency_id__in=currency_codes).annotate(
        is_authorized=Exists(authorized)
    )


_USER_ACCOUNTS_AUTHORIZED = CompiledQuery(_user_accounts_authorized)


_FILL_FIELDS = (
    "status", "fill_quantity", "fill_price_e8", "fill_usd_amount", "fee", "entry", "filled_at", "closed_at",
    "triggered_at", "updated_at",
)


def _order_record_fill(*, order: Order, terms: TradeTerms, entry: JournalEntry, now: datetime) -> Order:
    order.status = Order.Status.FILLED
    order.fill_quantity = terms.quantity
    order.fill_price_e8 = terms.price_e8
    order.fill_usd_amount = terms.notional
    order.fee = terms.fee
    order.entry = entry
    order.filled_at = order.closed_at = now
    row_update(order, update_fields=_FILL_FIELDS)
    event_record(type="order.filled", obj=order)
    return order


def _order_rest(*, order: Order) -> Order:
    if order.status != Order.Status.OPEN:
        order.status = Order.Status.OPEN
        order.save(update_fields=["status", "updated_at"])
        event_record(type="order.opened", obj=order)
    return order


def _order_close(*, order: Order, status: str, reason: str, now: datetime) -> Order:
    """Move an active order to a final status other than filled and release its hold."""
    if order.hold_id is not None:
        hold = order.hold  # read with the order (select_related) or on first use, under its lock
        if hold is not None and hold.status == Hold.Status.ACTIVE:
            hold_release(hold=hold)
    order.status = status
    order.reject_reason = reason
    order.closed_at = now
    order.save(update_fields=["status", "reject_reason", "closed_at", "triggered_at", "updated_at"])
    event_record(type=f"order.{status}", obj=order)  # order.rejected, order.cancelled, order.expired
    return order


def _limit_is_crossed(*, order: Order, price_e8: int) -> bool:
    if order.side == Side.BUY:
        return price_e8 <= order.limit_price_e8
    return price_e8 >= order.limit_price_e8


def _stop_is_triggered(*, order: Order, price_e8: int) -> bool:
    if order.side == Side.BUY:
        return price_e8 >= order.stop_price_e8
    return price_e8 <= order.stop_price_e8

