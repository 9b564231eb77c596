"""Crypto rails in admin: networks are data (editable); addresses, deposits and withdrawals are
read-only records that change only through the chain services, which the actions and the
manual-custody "Operate" page call.

The Operations queue for manual custody is the withdrawal list filtered by *Queue*: withdrawals
staff must send from cold storage (record the hash), and those waiting for confirmations
(record them, or record a failure, which posts the compensating entry).
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from chain.models import ChainDeposit, CryptoWithdrawal, CustodyReconciliation, DepositAddress, Network, NetworkAsset
from chain.services import (
    crypto_withdrawal_approve,
    crypto_withdrawal_record_broadcast,
    crypto_withdrawal_record_confirmations,
    crypto_withdrawal_record_failure,
    crypto_withdrawal_reject,
)
from core.admin import ReadOnlyAdmin, admin_decide_each
from core.errors import DomainError
from ledger.money import from_minor_units

MANUAL_ADAPTER = "chain.adapters.manual.ManualCustodyAdapter"


class NetworkAssetInline(admin.TabularInline):
    model = NetworkAsset
    extra = 0
    fields = ("currency", "contract_address", "chain_decimals", "withdrawal_fee")


@admin.register(Network)
class NetworkAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "address_kind", "adapter", "confirmations_required", "scan_cursor", "is_active")
    readonly_fields = ("scan_cursor",)
    inlines = [NetworkAssetInline]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # addresses and movements point at it; deactivate instead


@admin.register(DepositAddress)
class DepositAddressAdmin(ReadOnlyAdmin):
    list_display = ("address", "network", "client", "user", "derivation_index", "is_active", "assigned_at")
    list_filter = ("network", "is_active")
    search_fields = ("address", "user__external_id", "client__name")
    list_select_related = ("network", "client", "user")


@admin.register(ChainDeposit)
class ChainDepositAdmin(ReadOnlyAdmin):
    list_display = ("id", "detected_at", "status", "network", "currency", "client", "user", "amount_display",
                    "confirmations", "tx_link", "entry")
    list_filter = ("status", "network", "currency")
    search_fields = ("tx_hash", "user__external_id", "deposit_address__address")
    list_select_related = ("network", "currency", "client", "user", "entry")

    @admin.display(description="amount")
    def amount_display(self, deposit: ChainDeposit) -> str:
        return f"{from_minor_units(deposit.amount, scale=deposit.currency.scale)} {deposit.currency_id}"

    @admin.display(description="transaction")
    def tx_link(self, deposit: ChainDeposit) -> str:
        return _tx_link(deposit.explorer_url, deposit.tx_hash)


class QueueFilter(admin.SimpleListFilter):
    title = "queue"
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return [
            ("send", "Manual custody: to send from cold storage"),
            ("confirm", "Manual custody: waiting for confirmations"),
            ("review", "Compliance: pending review"),
        ]

    def queryset(self, request, queryset):
        manual = queryset.filter(network__adapter=MANUAL_ADAPTER)
        if self.value() == "send":
            return manual.filter(status=CryptoWithdrawal.Status.PENDING)
        if self.value() == "confirm":
            return manual.filter(status=CryptoWithdrawal.Status.BROADCAST)
        if self.value() == "review":
            return queryset.filter(status=CryptoWithdrawal.Status.PENDING_REVIEW)
        return queryset


class BroadcastForm(forms.Form):
    tx_hash = forms.CharField(max_length=100, label="Transaction hash", help_text="As sent from cold storage.")


class ConfirmationsForm(forms.Form):
    confirmations = forms.IntegerField(min_value=0, max_value=10**6)


class FailureForm(forms.Form):
    reason = forms.CharField(max_length=300, help_text="Why the transaction failed (the user is refunded).")


@admin.register(CryptoWithdrawal)
class CryptoWithdrawalAdmin(ReadOnlyAdmin):
    list_display = ("id", "created_at", "status", "network", "client", "user", "amount_display", "fee_display",
                    "address", "tx_link", "confirmations", "operate_link")
    list_filter = (QueueFilter, "status", "network")
    search_fields = ("=id", "tx_hash", "address", "user__external_id", "client__name")
    list_select_related = ("network", "client", "user", "account__currency")
    date_hierarchy = "created_at"
    actions = ["approve_withdrawals", "reject_withdrawals"]

    @admin.display(description="amount")
    def amount_display(self, withdrawal: CryptoWithdrawal) -> str:
        currency = withdrawal.account.currency
        return f"{from_minor_units(withdrawal.amount, scale=currency.scale)} {currency.code}"

    @admin.display(description="network fee")
    def fee_display(self, withdrawal: CryptoWithdrawal) -> str:
        currency = withdrawal.account.currency
        return f"{from_minor_units(withdrawal.network_fee, scale=currency.scale)} {currency.code}"

    @admin.display(description="transaction")
    def tx_link(self, withdrawal: CryptoWithdrawal) -> str:
        return _tx_link(withdrawal.explorer_url, withdrawal.tx_hash)

    @admin.display(description="operate")
    def operate_link(self, withdrawal: CryptoWithdrawal) -> str:
        if withdrawal.network.adapter != MANUAL_ADAPTER or withdrawal.status not in ("pending", "broadcast"):
            return ""
        url = reverse("admin:chain_cryptowithdrawal_operate", args=[withdrawal.pk])
        return format_html('<a class="button" href="{}">Operate…</a>', url)

    def _decide(self, request, queryset, decide, verb: str) -> None:
        admin_decide_each(self, request, queryset, lambda withdrawal: decide(withdrawal=withdrawal, actor=request.user),
                          noun="crypto withdrawal", verb=verb)

    @admin.action(description="Approve selected held withdrawals", permissions=["decide"])
    def approve_withdrawals(self, request, queryset):
        self._decide(request, queryset, crypto_withdrawal_approve, "approved")

    @admin.action(description="Reject selected held withdrawals", permissions=["decide"])
    def reject_withdrawals(self, request, queryset):
        def reject(*, withdrawal, actor):
            return crypto_withdrawal_reject(withdrawal=withdrawal, actor=actor, reason="rejected in admin")

        self._decide(request, queryset, reject, "rejected")

    def has_decide_permission(self, request) -> bool:
        return request.user.has_perm("chain.decide_cryptowithdrawal")

    def has_operate_permission(self, request) -> bool:
        return request.user.has_perm("chain.operate_cryptowithdrawal")

    def get_urls(self):
        return [
            path("<int:withdrawal_id>/operate/", self.admin_site.admin_view(self.operate_view),
                 name="chain_cryptowithdrawal_operate"),
            *super().get_urls(),
        ]

    def operate_view(self, request, withdrawal_id: int):
        """Manual custody: record the broadcast hash, the confirmations, or a failure."""
        if not self.has_operate_permission(request):
            raise PermissionDenied
        withdrawal = get_object_or_404(
            CryptoWithdrawal.objects.select_related("network", "account__currency", "user"), pk=withdrawal_id
        )
        step = request.POST.get("step")
        forms_by_step = {"broadcast": BroadcastForm, "confirmations": ConfirmationsForm, "failure": FailureForm}
        bound = {name: form(request.POST if step == name else None, prefix=name)
                 for name, form in forms_by_step.items()}
        if request.method == "POST" and step in bound and bound[step].is_valid():
            data = bound[step].cleaned_data
            try:
                if step == "broadcast":
                    crypto_withdrawal_record_broadcast(withdrawal=withdrawal, actor=request.user,
                                                       tx_hash=data["tx_hash"])
                elif step == "confirmations":
                    crypto_withdrawal_record_confirmations(withdrawal=withdrawal, actor=request.user,
                                                           confirmations=data["confirmations"])
                else:
                    crypto_withdrawal_record_failure(withdrawal=withdrawal, actor=request.user,
                                                     reason=data["reason"])
            except DomainError as error:
                bound[step].add_error(None, f"{error.detail} ({error.code})")
            else:
                withdrawal.refresh_from_db()
                self.message_user(request, f"Crypto withdrawal {withdrawal.pk} is now {withdrawal.status}.",
                                  messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:chain_cryptowithdrawal_change", args=[withdrawal.pk]))
        currency = withdrawal.account.currency
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "withdrawal": withdrawal,
            "amount": from_minor_units(withdrawal.amount, scale=currency.scale),
            "currency": currency.code,
            "forms": bound,
            "title": f"Operate crypto withdrawal {withdrawal.pk}",
        }
        return TemplateResponse(request, "admin/chain/cryptowithdrawal/operate.html", context)


@admin.register(CustodyReconciliation)
class CustodyReconciliationAdmin(ReadOnlyAdmin):
    list_display = ("ran_at", "is_ok")
    readonly_fields = ("ran_at", "is_ok", "lines")


def _tx_link(url: str, tx_hash: str) -> str:
    if not tx_hash:
        return ""
    short = f"{tx_hash[:10]}…" if len(tx_hash) > 12 else tx_hash
    return format_html('<a href="{}" rel="noopener">{}</a>', url, short) if url else short
