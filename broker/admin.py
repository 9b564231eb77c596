"""The brokerage in admin: rates with their history, orders, quotes, conversions, offered currencies.

Rates change only through `rate_update` (history row and order evaluation included) and orders
are cancelled only through `order_cancel` (which releases the hold); each writes its audit event
in the same transaction. Quotes, orders and conversions are otherwise read-only.
"""

from django import forms
from django.contrib import admin, messages

from broker.models import Conversion, OfferedCurrency, Order, Quote, Rate, RateHistory
from broker.pricing import price_parse, price_render
from broker.services import offered_currency_add, offered_currency_remove, order_cancel, rate_update
from core.admin import ReadOnlyAdmin
from core.errors import DomainError
from ledger.money import amount_render, from_minor_units
from ledger.selectors import settlement_currency


class OfferedCurrencyInline(admin.TabularInline):
    """On the client page. Adding goes through offered_currency_add; removing deletes the row."""

    model = OfferedCurrency
    fields = ("currency", "created_at")
    readonly_fields = ("created_at",)
    extra = 0
    verbose_name_plural = "offered currencies (none listed: every active currency)"


@admin.register(OfferedCurrency)
class OfferedCurrencyAdmin(admin.ModelAdmin):
    list_display = ("client", "currency", "created_at")
    list_filter = ("currency",)
    search_fields = ("client__name", "client__slug", "currency__code")
    date_hierarchy = "created_at"
    list_select_related = ("client", "currency")

    # Both go through the services, which write the audit event with the change.
    def save_model(self, request, obj, form, change):
        offered = offered_currency_add(actor=request.user, client=obj.client, currency=obj.currency)
        obj.pk = offered.pk

    def delete_model(self, request, obj):
        offered_currency_remove(actor=request.user, client=obj.client, currency=obj.currency)


class RateForm(forms.ModelForm):
    """The price as a decimal string (USD per whole unit), parsed exactly into price_e8."""

    price = forms.CharField(max_length=40, help_text="USD per whole unit, e.g. 65000.12 (up to 8 decimal places).")

    class Meta:
        model = Rate
        fields = ("currency",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["price"] = price_render(self.instance.price_e8)

    def clean_price(self) -> int:
        try:
            return price_parse(self.cleaned_data["price"])
        except DomainError as error:
            raise forms.ValidationError(error.detail) from None


@admin.register(Rate)
class RateAdmin(admin.ModelAdmin):
    form = RateForm
    list_display = ("currency", "price_display", "quote_currency", "updated_at")
    search_fields = ("currency__code",)
    list_select_related = ("currency", "quote_currency")
    readonly_fields = ("updated_at",)

    def get_fields(self, request, obj=None):
        return ("currency", "price", "updated_at") if obj is None else ("price", "updated_at")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # History hangs off the currency (the rate's primary key), so it is listed by the template.
        history = RateHistory.objects.filter(currency_id=object_id).select_related("changed_by").order_by("-id")[:50]
        extra_context = {**(extra_context or {}), "rate_history": [
            {"changed_at": row.changed_at, "price": price_render(row.price_e8), "source": row.get_source_display(),
             "changed_by": row.changed_by} for row in history
        ]}
        return super().change_view(request, object_id, form_url, extra_context)

    change_form_template = "admin/broker/rate/change_form.html"

    @admin.display(description="price (USD)", ordering="price_e8")
    def price_display(self, rate: Rate) -> str | None:
        return price_render(rate.price_e8)

    def save_model(self, request, obj, form, change):
        # rate_update writes the history row and the audit event with the rate.
        rate = rate_update(
            currency=obj.currency, price_e8=form.cleaned_data["price"], changed_by=request.user,
            source=RateHistory.Source.ADMIN,
        )
        obj.pk = rate.pk
        obj.price_e8, obj.updated_at = rate.price_e8, rate.updated_at

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(RateHistory)
class RateHistoryAdmin(ReadOnlyAdmin):
    list_display = ("changed_at", "currency", "price_display", "source", "changed_by")
    list_filter = ("currency", "source")
    date_hierarchy = "changed_at"
    list_select_related = ("currency", "changed_by")

    @admin.display(description="price (USD)", ordering="price_e8")
    def price_display(self, history: RateHistory) -> str | None:
        return price_render(history.price_e8)


@admin.register(Quote)
class QuoteAdmin(ReadOnlyAdmin):
    list_display = ("id", "client", "user", "side", "currency", "quantity_display", "usd_total", "expires_at",
                    "used_at", "created_at")
    list_filter = ("side", "currency", "client")
    search_fields = ("=id", "user__external_id", "client__name")
    date_hierarchy = "created_at"
    list_select_related = ("client", "user__client", "currency")

    @admin.display(description="quantity")
    def quantity_display(self, quote: Quote) -> str:
        return amount_render(quote.quantity, currency=quote.currency, with_code=False)

    @admin.display(description="total (USD)")
    def usd_total(self, quote: Quote) -> str:
        return from_minor_units(quote.total, scale=settlement_currency().scale)


class OrderAdminMixin:
    @admin.display(description="quantity")
    def quantity_display(self, order: Order) -> str:
        quantity = order.quantity if order.quantity is not None else order.fill_quantity
        return amount_render(quantity, currency=order.currency, with_code=False)

    @admin.display(description="limit / stop")
    def price_display(self, order: Order) -> str:
        return price_render(order.limit_price_e8 or order.stop_price_e8) or ""


@admin.register(Order)
class OrderAdmin(OrderAdminMixin, ReadOnlyAdmin):
    list_display = ("id", "client", "user", "type", "side", "currency", "quantity_display", "price_display",
                    "status", "reject_reason", "created_at")
    list_filter = ("status", "type", "side", "currency", "client")
    search_fields = ("=id", "client_order_id", "user__external_id", "client__name")
    date_hierarchy = "created_at"
    list_select_related = ("client", "user__client", "currency")
    actions = ["cancel_orders"]

    @admin.action(description="Cancel selected orders (releases their holds)", permissions=["cancel"])
    def cancel_orders(self, request, queryset):
        for order in queryset.order_by("pk"):
            try:
                order_cancel(actor=request.user, order=order)
            except DomainError as error:
                self.message_user(request, f"Order {order.pk}: {error.detail} ({error.code})", messages.WARNING)
            else:
                self.message_user(request, f"Order {order.pk} cancelled.", messages.SUCCESS)

    def has_cancel_permission(self, request) -> bool:
        return request.user.has_perm("broker.change_order")


class OrderInline(OrderAdminMixin, admin.TabularInline):
    model = Order
    fk_name = "user"
    fields = ("id", "type", "side", "currency", "quantity_display", "price_display", "status", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("currency")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Conversion)
class ConversionAdmin(ReadOnlyAdmin):
    list_display = ("id", "client", "user", "from_display", "to_display", "usd_value_display", "fee_display",
                    "created_at")
    list_filter = ("from_currency", "to_currency", "client")
    search_fields = ("=id", "user__external_id", "client__name")
    date_hierarchy = "created_at"
    list_select_related = ("client", "user__client", "from_currency", "to_currency")

    @admin.display(description="from")
    def from_display(self, conversion: Conversion) -> str:
        return amount_render(conversion.from_amount, currency=conversion.from_currency)

    @admin.display(description="to")
    def to_display(self, conversion: Conversion) -> str:
        return amount_render(conversion.to_amount, currency=conversion.to_currency)

    @admin.display(description="USD value")
    def usd_value_display(self, conversion: Conversion) -> str:
        return from_minor_units(conversion.usd_value, scale=settlement_currency().scale)

    @admin.display(description="fee (USD)")
    def fee_display(self, conversion: Conversion) -> str:
        return from_minor_units(conversion.fee, scale=settlement_currency().scale)
