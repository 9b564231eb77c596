"""Rates, the currencies a client offers, quotes, orders and conversions.

Prices are exact integers: `price_e8` is USD per one whole unit of the currency, times 10**8
(BTC at 65,000.12 USD is 6_500_012_000_000). SQLite would store a DecimalField as a float, so no
price is ever a DecimalField. Amounts are minor units of their currency (`ledger.money`).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

PRICE_SCALE = 8  # decimal places of every *_price_e8 column


class OfferedCurrency(models.Model):
    """A currency the client offers its users. No rows for a client means every active currency.

    The settlement currency is always offered, whatever the rows say.
    """

    client = models.ForeignKey("accounts.Client", on_delete=models.CASCADE, related_name="offered_currencies")
    currency = models.ForeignKey("ledger.Currency", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["client_id", "currency_id"]
        verbose_name_plural = "offered currencies"
        constraints = [models.UniqueConstraint(fields=["client", "currency"], name="broker_offeredcurrency_unique")]

    def __str__(self) -> str:
        return f"client {self.client_id} offers {self.currency_id}"


class Rate(models.Model):
    """The current price of one currency in the settlement currency. Stored locally and trusted."""

    currency = models.OneToOneField("ledger.Currency", on_delete=models.PROTECT, primary_key=True, related_name="rate")
    quote_currency = models.ForeignKey("ledger.Currency", on_delete=models.PROTECT, related_name="+")
    price_e8 = models.BigIntegerField(help_text="Quote-currency units per whole unit, times 10^8.")
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["currency_id"]
        constraints = [models.CheckConstraint(condition=Q(price_e8__gt=0), name="broker_rate_price_positive")]

    def __str__(self) -> str:
        return f"{self.currency_id}/{self.quote_currency_id} {self.price_e8}e-8"


class RateHistory(models.Model):
    """Every rate change, append-only: what the price was, from when, and who set it."""

    class Source(models.TextChoices):
        API = "api", "API"
        ADMIN = "admin", "Admin"
        FILE = "file", "Bulk load"
        DEMO = "demo", "Demo data"

    currency = models.ForeignKey("ledger.Currency", on_delete=models.PROTECT, related_name="+")
    quote_currency = models.ForeignKey("ledger.Currency", on_delete=models.PROTECT, related_name="+")
    price_e8 = models.BigIntegerField()
    changed_at = models.DateTimeField()
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    source = models.CharField(max_length=10, choices=Source.choices)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "rate history"
        constraints = [models.CheckConstraint(condition=Q(price_e8__gt=0), name="broker_ratehistory_price_positive")]
        indexes = [models.Index(fields=["currency", "-id"])]

    def __str__(self) -> str:
        return f"{self.currency_id} {self.price_e8}e-8 at {self.changed_at:%Y-%m-%d %H:%M:%S}"


class Side(models.TextChoices):
    BUY = "buy", "Buy"
    SELL = "sell", "Sell"


class Quote(models.Model):
    """A firm price for one trade, valid until `expires_at` and usable by one order.

    All figures are fixed at creation: `usd_amount` is the notional, `fee` the client's fee on it,
    `total` what the user pays (buy: notional + fee) or receives (sell: notional - fee).
    """

    client = models.ForeignKey("accounts.Client", on_delete=models.PROTECT, related_name="quotes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="quotes")
    side = models.CharField(max_length=4, choices=Side.choices)
    currency = models.ForeignKey("ledger.Currency", on_delete=models.PROTECT, related_name="+")
    quantity = models.BigIntegerField(help_text="Minor units of the currency.")
    price_e8 = models.BigIntegerField()
    usd_amount = models.BigIntegerField(help_text="Notional in USD minor units.")
    fee_bps = models.PositiveIntegerField()
    fee = models.BigIntegerField(help_text="USD minor units.")
    total = models.BigIntegerField(help_text="USD minor units the user pays (buy) or receives (sell).")
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gt=0, price_e8__gt=0, usd_amount__gt=0, fee__gte=0, total__gt=0),
                name="broker_quote_amounts_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"quote {self.pk}: {self.side} {self.quantity} {self.currency_id}"


class Order(models.Model):
    """An instruction to buy or sell, accepted by the API and executed by the worker.

    Lifecycle: submitted → open (a resting limit or stop) → filled; or rejected, cancelled,
    expired. Funds are held from submission (`hold`) until the fill captures the hold or a final
    status releases it. A filled order points at the one journal entry of its fill.
    """

    class Type(models.TextChoices):
        MARKET = "market", "Market"
        LIMIT = "limit", "Limit"
        STOP = "stop", "Stop"

    class TimeInForce(models.TextChoices):
        GTC = "gtc", "Good till cancelled"
        IOC = "ioc", "Immediate or cancel"

    class Status(models.TextChoices):
        SUBMITTED = "submitted", "Submitted"
        OPEN = "open", "Open"
        FILLED = "filled", "Filled"
        REJECTED = "rejected", "Rejected"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired"

    ACTIVE_STATUSES = (Status.SUBMITTED, Status.OPEN)

    client = models.ForeignKey("accounts.Client", on_delete=models.PROTECT, related_name="orders")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders")
    client_order_id = models.CharField(max_length=100, null=True, blank=True)
    side = models.CharField(max_length=4, choices=Side.choices)
    type = models.CharField(max_length=6, choices=Type.choices)
    time_in_force = models.CharField(max_length=3, choices=TimeInForce.choices, default=TimeInForce.GTC)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SUBMITTED)
    currency = models.ForeignKey("ledger.Currency", on_delete=models.PROTECT, related_name="+")
    # Exactly one of quantity (minor units of `currency`) or usd_amount (USD minor units, market
    # orders only) states the size.
    quantity = models.BigIntegerField(null=True, blank=True)
    usd_amount = models.BigIntegerField(null=True, blank=True)
    limit_price_e8 = models.BigIntegerField(null=True, blank=True)
    stop_price_e8 = models.BigIntegerField(null=True, blank=True)
    quote = models.OneToOneField(Quote, on_delete=models.PROTECT, null=True, blank=True, related_name="order")
    fee_bps = models.PositiveIntegerField(help_text="The client's fee schedule when the order was submitted.")
    hold = models.OneToOneField("ledger.Hold", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    expires_at = models.DateTimeField(null=True, blank=True)
    reject_reason = models.CharField(max_length=50, blank=True)
    triggered_at = models.DateTimeField(null=True, blank=True, help_text="When a stop order's stop was crossed.")
    fill_quantity = models.BigIntegerField(null=True, blank=True)
    fill_price_e8 = models.BigIntegerField(null=True, blank=True)
    fill_usd_amount = models.BigIntegerField(null=True, blank=True)
    fee = models.BigIntegerField(null=True, blank=True)
    entry = models.OneToOneField(
        "ledger.JournalEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    filled_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "client_order_id"],
                condition=Q(client_order_id__isnull=False),
                name="broker_order_client_order_id_unique",
            ),
            models.CheckConstraint(
                condition=(Q(quantity__gt=0) & Q(usd_amount__isnull=True))
                | (Q(quantity__isnull=True) & Q(usd_amount__gt=0) & Q(type="market")),
                name="broker_order_one_size",
            ),
            models.CheckConstraint(
                condition=Q(type="limit", limit_price_e8__gt=0) | (~Q(type="limit") & Q(limit_price_e8__isnull=True)),
                name="broker_order_limit_price",
            ),
            models.CheckConstraint(
                condition=Q(type="stop", stop_price_e8__gt=0) | (~Q(type="stop") & Q(stop_price_e8__isnull=True)),
                name="broker_order_stop_price",
            ),
            models.CheckConstraint(
                condition=~Q(status="filled")
                | Q(entry__isnull=False, fill_quantity__gt=0, fill_price_e8__gt=0, fee__gte=0),
                name="broker_order_filled_has_entry",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "currency", "type"]),
            models.Index(fields=["client", "user", "-id"]),
        ]

    def __str__(self) -> str:
        return f"order {self.pk}: {self.type} {self.side} {self.currency_id} ({self.status})"

    @property
    def is_final(self) -> bool:
        return self.status not in self.ACTIVE_STATUSES


class Conversion(models.Model):
    """One currency converted into another at the current rates, in one journal entry.

    `from_price_e8` / `to_price_e8` are the USD prices used (10**8 for USD itself); `fee` is in
    USD minor units, charged on the USD value of what was converted.
    """

    client = models.ForeignKey("accounts.Client", on_delete=models.PROTECT, related_name="conversions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="conversions")
    from_currency = models.ForeignKey("ledger.Currency", on_delete=models.PROTECT, related_name="+")
    to_currency = models.ForeignKey("ledger.Currency", on_delete=models.PROTECT, related_name="+")
    from_amount = models.BigIntegerField()
    to_amount = models.BigIntegerField()
    from_price_e8 = models.BigIntegerField()
    to_price_e8 = models.BigIntegerField()
    usd_value = models.BigIntegerField(help_text="USD value of from_amount (minor units).")
    fee_bps = models.PositiveIntegerField()
    fee = models.BigIntegerField()
    entry = models.OneToOneField("ledger.JournalEntry", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(from_amount__gt=0, to_amount__gt=0, fee__gte=0), name="broker_conversion_amounts_positive"
            ),
            models.CheckConstraint(
                condition=~Q(from_currency=models.F("to_currency")), name="broker_conversion_distinct_currencies"
            ),
        ]
        indexes = [models.Index(fields=["client", "user", "-id"])]

    def __str__(self) -> str:
        return f"conversion {self.pk}: {self.from_amount} {self.from_currency_id} → {self.to_currency_id}"
