"""The ledger in admin: read-only balances and journal, money changed only through services.

Accounts, entries, postings and holds cannot be added, changed or deleted here. The two
money-changing tools call ledger services, which check every rule and write the audit event in
the same transaction: "post adjustment" (adjustment_create, mandatory reason) and "reverse
transfer" (transfer_reverse).
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from core.admin import ReadOnlyAdmin
from core.errors import DomainError
from ledger.history import trial_balance
from ledger.models import (
    Account,
    BalanceSnapshot,
    Currency,
    CurrencyAuthorization,
    Hold,
    JournalEntry,
    LedgerVerification,
    Posting,
)
from ledger.money import amount_render, from_minor_units, to_minor_units
from ledger.services import adjustment_create, transfer_reverse


@admin.register(Currency)
class CurrencyAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind", "scale", "is_active")
    list_filter = ("kind", "is_active")
    search_fields = ("code", "name")

    def get_readonly_fields(self, request, obj=None):
        # The scale of an existing currency defines every stored amount in it: never editable.
        return ("code", "scale") if obj is not None else ()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class AdjustmentForm(forms.Form):
    direction = forms.ChoiceField(
        choices=[("credit", "Credit the account"), ("debit", "Debit the account")], widget=forms.RadioSelect
    )
    amount = forms.CharField(max_length=40, help_text="A positive decimal in the account's currency, e.g. 10.50")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=500,
                             help_text="Required. Recorded on the journal entry and in the audit log.")

    def __init__(self, *args, currency: Currency, **kwargs):
        super().__init__(*args, **kwargs)
        self.currency = currency

    def clean_amount(self) -> int:
        try:
            return to_minor_units(self.cleaned_data["amount"], scale=self.currency.scale)
        except DomainError as error:
            raise forms.ValidationError(error.detail) from None

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("A reason is required.")
        return reason


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ("id", "client", "owner", "currency", "kind", "balance_display", "held_display", "is_active",
                    "created_at")
    list_filter = ("kind", "currency", "is_active", "client")
    search_fields = ("=id", "user__external_id", "user__email", "user__username", "client__name", "client__slug")
    date_hierarchy = "created_at"
    list_select_related = ("client", "user", "currency")
    readonly_fields = ("client", "user", "currency", "kind", "balance_display", "held_display", "available_display",
                       "allows_negative", "is_active", "created_at", "adjust_link")
    fields = readonly_fields
    actions = ["post_adjustment"]

    @admin.display(description="owner")
    def owner(self, account: Account) -> str:
        user = account.user
        return (user.external_id or user.username) if user is not None else account.get_kind_display()

    @admin.display(description="balance", ordering="balance")
    def balance_display(self, account: Account) -> str:
        return amount_render(account.balance, currency=account.currency, with_code=False)

    @admin.display(description="held", ordering="held")
    def held_display(self, account: Account) -> str:
        return amount_render(account.held, currency=account.currency, with_code=False)

    @admin.display(description="available")
    def available_display(self, account: Account) -> str:
        return amount_render(account.available, currency=account.currency, with_code=False)

    @admin.display(description="adjustment")
    def adjust_link(self, account: Account) -> str:
        url = reverse("admin:ledger_account_adjust", args=[account.pk])
        return format_html('<a class="button" href="{}">Post adjustment…</a>', url)

    @admin.action(description="Post an adjustment to the selected account…", permissions=["post_adjustment"])
    def post_adjustment(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one account to adjust.", messages.WARNING)
            return None
        return HttpResponseRedirect(reverse("admin:ledger_account_adjust", args=[queryset.get().pk]))

    def has_post_adjustment_permission(self, request) -> bool:
        return request.user.has_perm("operations.post_adjustment")

    def get_urls(self):
        return [
            path(
                "<int:account_id>/adjust/", self.admin_site.admin_view(self.adjust_view), name="ledger_account_adjust"
            ),
            path(
                "trial-balance/", self.admin_site.admin_view(self.trial_balance_view),
                name="ledger_account_trial_balance",
            ),
            *super().get_urls(),
        ]

    def trial_balance_view(self, request):
        """Per client and currency: system accounts and the sum of user accounts, totalling zero."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        lines = [
            {
                "client": line.client_name, "currency": line.currency, "is_zero": line.total == 0,
                **{name: from_minor_units(getattr(line, name), scale=line.scale)
                   for name in ("funding", "fee_revenue", "inventory", "other", "users", "total")},
            }
            for line in trial_balance()
        ]
        context = {**self.admin_site.each_context(request), "opts": self.opts, "title": "Trial balance",
                   "lines": lines}
        return TemplateResponse(request, "admin/ledger/account/trial_balance.html", context)

    def adjust_view(self, request, account_id: int):
        if not self.has_post_adjustment_permission(request):
            raise PermissionDenied
        account = get_object_or_404(Account.objects.select_related("currency", "client", "user"), pk=account_id)
        form = AdjustmentForm(request.POST or None, currency=account.currency)
        if request.method == "POST" and form.is_valid():
            amount = form.cleaned_data["amount"]
            signed = amount if form.cleaned_data["direction"] == "credit" else -amount
            try:
                entry = adjustment_create(
                    account=account, amount=signed, reason=form.cleaned_data["reason"], actor=request.user
                )
            except DomainError as error:
                form.add_error(None, f"{error.detail} ({error.code})")
            else:
                self.message_user(
                    request,
                    f"Adjustment #{entry.pk} posted: {'+' if signed > 0 else '-'}"
                    f"{amount_render(amount, currency=account.currency)}.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:ledger_journalentry_change", args=[entry.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "account": account,
            "balance": amount_render(account.balance, currency=account.currency, with_code=False),
            "available": amount_render(account.available, currency=account.currency, with_code=False),
            "form": form,
            "title": f"Post an adjustment to {account}",
        }
        return TemplateResponse(request, "admin/ledger/account/adjust.html", context)


class PostingInline(admin.TabularInline):
    model = Posting
    fields = ("account", "currency", "amount_display", "sequence", "balance_after_display")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account__currency", "account__user", "account__client")

    @admin.display(description="currency")
    def currency(self, posting: Posting) -> str:
        return posting.account.currency_id

    @admin.display(description="amount")
    def amount_display(self, posting: Posting) -> str:
        return amount_render(posting.amount, currency=posting.account.currency, with_code=False)

    @admin.display(description="balance after")
    def balance_after_display(self, posting: Posting) -> str:
        return amount_render(posting.balance_after, currency=posting.account.currency, with_code=False)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "client", "reference", "posting_count", "reverses", "created_at")
    list_filter = ("kind", "client")
    search_fields = ("=id", "reference", "client__name")
    date_hierarchy = "created_at"
    list_select_related = ("client", "reverses")
    fields = ("kind", "client", "reference", "metadata", "reverses", "created_at")
    readonly_fields = fields
    inlines = [PostingInline]
    actions = ["reverse_transfers"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(posting_total=Count("postings"))

    @admin.display(description="postings", ordering="posting_total")
    def posting_count(self, entry: JournalEntry) -> int:
        return entry.posting_total  # type: ignore[attr-defined]  # annotated by get_queryset

    @admin.action(description="Reverse selected transfers", permissions=["reverse_transfer"])
    def reverse_transfers(self, request, queryset):
        for entry in queryset.order_by("pk"):
            try:
                reversal = transfer_reverse(
                    actor=request.user, entry=entry, reference=f"reversal by {request.user.get_username()}"[:200],
                    metadata={"actor_id": request.user.pk},
                )
            except DomainError as error:
                self.message_user(request, f"Entry #{entry.pk}: {error.detail} ({error.code})", messages.ERROR)
            else:
                self.message_user(request, f"Transfer #{entry.pk} reversed by entry #{reversal.pk}.", messages.SUCCESS)

    def has_reverse_transfer_permission(self, request) -> bool:
        return request.user.has_perm("operations.reverse_transfer")


@admin.register(Posting)
class PostingAdmin(ReadOnlyAdmin):
    list_display = ("id", "entry", "account", "sequence", "amount_display", "balance_after_display", "posted_at")
    list_filter = ("account__currency", "entry__kind")
    search_fields = ("=entry__id", "=account__id", "account__user__external_id")
    list_select_related = ("entry", "account__currency", "account__user", "account__client")

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, posting: Posting) -> str:
        return amount_render(posting.amount, currency=posting.account.currency)

    @admin.display(description="balance after")
    def balance_after_display(self, posting: Posting) -> str:
        return amount_render(posting.balance_after, currency=posting.account.currency, with_code=False)


@admin.register(BalanceSnapshot)
class BalanceSnapshotAdmin(ReadOnlyAdmin):
    list_display = ("date", "account", "balance_display", "sequence", "as_of", "created_at")
    list_filter = ("date", "account__currency", "account__kind")
    search_fields = ("=account__id", "account__client__name")
    date_hierarchy = "date"
    list_select_related = ("account__currency", "account__user", "account__client")

    @admin.display(description="closing balance", ordering="balance")
    def balance_display(self, snapshot: BalanceSnapshot) -> str:
        return amount_render(snapshot.balance, currency=snapshot.account.currency)


@admin.register(Hold)
class HoldAdmin(ReadOnlyAdmin):
    list_display = ("id", "account", "amount_display", "status", "reason", "created_at", "closed_at")
    list_filter = ("status", "account__currency")
    search_fields = ("=id", "=account__id", "reason", "account__user__external_id")
    date_hierarchy = "created_at"
    list_select_related = ("account__currency", "account__user", "account__client")

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, hold: Hold) -> str:
        return amount_render(hold.amount, currency=hold.account.currency)


@admin.register(CurrencyAuthorization)
class CurrencyAuthorizationAdmin(admin.ModelAdmin):
    list_display = ("user", "client", "currency", "created_at")
    list_filter = ("currency",)
    search_fields = ("user__external_id", "user__email", "user__client__name")
    date_hierarchy = "created_at"
    list_select_related = ("user__client", "currency")
    autocomplete_fields = ("user",)

    @admin.display(description="client")
    def client(self, authorization: CurrencyAuthorization):
        return authorization.user.client


@admin.register(LedgerVerification)
class LedgerVerificationAdmin(ReadOnlyAdmin):
    list_display = ("ran_at", "is_ok", "accounts_checked", "entries_checked")
    list_filter = ("is_ok",)
    date_hierarchy = "ran_at"
