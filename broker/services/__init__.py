"""Every brokerage write goes through these services (split by topic)."""

from broker.services.conversions import conversion_create
from broker.services.currencies import (
    currency_check_offered_and_authorized,
    offered_currency_add,
    offered_currency_remove,
    user_currency_grant,
    user_currency_revoke,
)
from broker.services.order_execution import order_cancel, order_execute, orders_evaluate, orders_sweep
from broker.services.order_submission import OrderRequest, order_submit
from broker.services.quotes import quote_create
from broker.services.rates import rate_update, rates_load

__all__ = [
    "OrderRequest",
    "conversion_create",
    "currency_check_offered_and_authorized",
    "offered_currency_add",
    "offered_currency_remove",
    "order_cancel",
    "order_execute",
    "order_submit",
    "orders_evaluate",
    "orders_sweep",
    "quote_create",
    "rate_update",
    "rates_load",
    "user_currency_grant",
    "user_currency_revoke",
]
