"""The back office: the review queue, compliance rules, and the cross-app admin actions.

This app sits at the top of the import graph, so it owns the admin pages of clients, users and
API keys: the accounts app's classes extended with what needs other apps (issuing API keys,
plaintext shown once; revoking keys; freezing and deactivating users; a user's accounts,
authorizations, orders and review items inline).
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from accounts.admin import ApiKeyAdmin, ClientAdmin, UserAdmin
from accounts.models import ApiKey, Client, User
from accounts.services import (
    api_key_create,
    api_key_revoke,
    client_create,
    user_deactivate,
    user_freeze,
    user_unfreeze,
)
from core.admin import ReadOnlyAdmin, admin_decide_each
from core.errors import DomainError
from ledger.models import Account, CurrencyAuthorization
from ledger.money import from_minor_units
from operations.models import ComplianceRule, PendingWithdrawal, ReviewItem
from operations.services import review_item_note_update, review_item_resolve, withdrawal_approve, withdrawal_reject


@admin.register(ComplianceRule)
class ComplianceRuleAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "currency", "threshold_usd", "threshold_minor", "max_movements",
                    "window_minutes", "is_active")
    list_filter = ("kind", "is_active", "currency")
    search_fields = ("name",)
    list_select_related = ("currency",)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # review items point at their rule; deactivate instead


@admin.register(ReviewItem)
class ReviewItemAdmin(admin.ModelAdmin):
    list_display = ("id", "created_at", "status", "rule", "client", "user", "entry", "withdrawal", "detail",
                    "resolved_by")
    list_filter = ("status", "rule", "client")
    search_fields = ("=id", "user__external_id", "user__email", "client__name", "detail", "=entry__id")
    date_hierarchy = "created_at"
    list_select_related = ("rule", "client", "user__client", "entry", "withdrawal", "resolved_by")
    readonly_fields = ("client", "user", "entry", "rule", "withdrawal", "detail", "status", "resolved_by",
                       "resolved_at", "created_at")
    fields = readonly_fields + ("note",)
    actions = ["clear_items", "escalate_items"]

    def _resolve(self, request, queryset, status: str) -> None:
        done = 0
        for item in queryset:
            try:
                review_item_resolve(actor=request.user, item=item, status=status, note=item.note)
                done += 1
            except DomainError as error:
                self.message_user(request, f"Review item {item.pk}: {error.detail}", messages.WARNING)
        self.message_user(request, f"{done} review item(s) {status}.", messages.SUCCESS)

    @admin.action(description="Clear selected review items", permissions=["change"])
    def clear_items(self, request, queryset):
        self._resolve(request, queryset, ReviewItem.Status.CLEARED)

    @admin.action(description="Escalate selected review items", permissions=["change"])
    def escalate_items(self, request, queryset):
        self._resolve(request, queryset, ReviewItem.Status.ESCALATED)

    def save_model(self, request, obj, form, change):
        # Only the note is editable; status moves through the audited actions.
        review_item_note_update(actor=request.user, item=obj, note=obj.note)

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(PendingWithdrawal)
class PendingWithdrawalAdmin(ReadOnlyAdmin):
    """Withdrawals held for review. Decided only through the audited actions, each exactly once;
    the permission to decide is granted to the Compliance role alone."""

    list_display = ("id", "created_at", "status", "client", "user", "account", "amount_display", "reference",
                    "entry", "decided_by", "decided_at")
    list_filter = ("status", "client")
    search_fields = ("=id", "user__external_id", "user__email", "client__name", "reference")
    date_hierarchy = "created_at"
    list_select_related = ("client", "user__client", "account__currency", "account__user", "entry", "decided_by")
    fields = ("client", "user", "account", "amount_display", "hold", "reference", "metadata", "status", "entry",
              "decided_by", "decided_at", "reason", "created_at")
    readonly_fields = fields
    actions = ["approve_withdrawals", "reject_withdrawals"]

    @admin.display(description="amount")
    def amount_display(self, pending: PendingWithdrawal) -> str:
        return f"{from_minor_units(pending.amount, scale=pending.account.currency.scale)} {pending.account.currency_id}"

    def _decide(self, request, queryset, decide, verb: str) -> None:
        admin_decide_each(self, request, queryset, lambda pending: decide(pending=pending, actor=request.user),
                          noun="withdrawal", verb=verb)

    @admin.action(description="Approve selected withdrawals", permissions=["decide"])
    def approve_withdrawals(self, request, queryset):
        self._decide(request, queryset, withdrawal_approve, "approved")

    @admin.action(description="Reject selected withdrawals", permissions=["decide"])
    def reject_withdrawals(self, request, queryset):
        def reject(*, pending, actor):
            return withdrawal_reject(pending=pending, actor=actor, reason="rejected in admin")

        self._decide(request, queryset, reject, "rejected")

    def has_decide_permission(self, request) -> bool:
        return request.user.has_perm("operations.decide_pendingwithdrawal")


class ReviewItemInline(admin.TabularInline):
    model = ReviewItem
    fk_name = "user"
    fields = ("created_at", "rule", "entry", "status", "detail")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("rule", "entry")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class AccountInline(admin.TabularInline):
    model = Account
    fields = ("currency", "kind", "balance_display", "held_display", "is_active", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("currency")

    @admin.display(description="balance")
    def balance_display(self, account: Account) -> str:
        return from_minor_units(account.balance, scale=account.currency.scale)

    @admin.display(description="held")
    def held_display(self, account: Account) -> str:
        return from_minor_units(account.held, scale=account.currency.scale)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class CurrencyAuthorizationInline(admin.TabularInline):
    model = CurrencyAuthorization
    fields = ("currency", "created_at")
    readonly_fields = ("created_at",)
    extra = 0


class ApiKeyIssueForm(forms.Form):
    name = forms.CharField(max_length=100, required=False, help_text="What the key is for (shown in lists).")
    expires_at = forms.DateTimeField(required=False, help_text="Optional, UTC: YYYY-MM-DD HH:MM.")


@admin.register(Client)
class BackOfficeClientAdmin(ClientAdmin):
    change_form_template = "admin/accounts/client/change_form.html"

    def get_inlines(self, request, obj):
        from broker.admin import OfferedCurrencyInline

        return [*super().get_inlines(request, obj), OfferedCurrencyInline]

    def get_urls(self):
        return [
            path(
                "<int:client_id>/issue-api-key/",
                self.admin_site.admin_view(self.issue_api_key_view),
                name="accounts_client_issue_api_key",
            ),
            *super().get_urls(),
        ]

    def issue_api_key_view(self, request, client_id: int):
        if not request.user.has_perm("accounts.add_apikey"):
            raise PermissionDenied
        client = get_object_or_404(Client, pk=client_id)
        form = ApiKeyIssueForm(request.POST or None)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": client,
            "client": client,
            "form": form,
            "title": f"Issue an API key for {client}",
        }
        if request.method == "POST" and form.is_valid():
            key, plaintext = api_key_create(
                actor=request.user, client=client, name=form.cleaned_data["name"],
                expires_at=form.cleaned_data["expires_at"],
            )
            response = TemplateResponse(
                request,
                "admin/accounts/client/api_key_issued.html",
                {**context, "key": key, "plaintext": plaintext, "title": "API key issued"},
            )
            # This response is the only copy of the secret: no cache may keep it.
            response["Cache-Control"] = "no-store"
            return response
        return TemplateResponse(request, "admin/accounts/client/issue_api_key.html", context)

    def save_formset(self, request, form, formset, change):
        from broker.models import OfferedCurrency

        if formset.model is not OfferedCurrency:
            return super().save_formset(request, form, formset, change)
        # Offered currencies change through the brokerage's services, each with an audit event.
        from broker.services import offered_currency_add, offered_currency_remove

        client = form.instance
        for offered in formset.save(commit=False):
            if offered.pk is None:
                offered_currency_add(actor=request.user, client=client, currency=offered.currency)
        for offered in formset.deleted_objects:
            offered_currency_remove(actor=request.user, client=client, currency=offered.currency)

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        created = client_create(actor=request.user, name=obj.name, slug=obj.slug, fee_bps=obj.fee_bps)
        obj.pk, obj.created_at = created.pk, created.created_at


@admin.register(ApiKey)
class BackOfficeApiKeyAdmin(ApiKeyAdmin):
    actions = ["revoke_keys"]

    @admin.action(description="Revoke selected API keys", permissions=["change"])
    def revoke_keys(self, request, queryset):
        revoked = 0
        for key in queryset.filter(revoked_at__isnull=True):
            api_key_revoke(actor=request.user, key=key)
            revoked += 1
        self.message_user(request, f"Revoked {revoked} API key(s).", messages.SUCCESS)

    def add_view(self, request, form_url="", extra_context=None):
        return redirect(reverse("admin:accounts_client_changelist"))


@admin.register(User)
class BackOfficeUserAdmin(UserAdmin):
    actions = ["freeze_users", "unfreeze_users", "deactivate_users"]

    def get_inlines(self, request, obj):
        if obj is None or not obj.is_end_user:
            return []
        from broker.admin import OrderInline

        return [AccountInline, CurrencyAuthorizationInline, OrderInline, ReviewItemInline]

    @admin.action(description="Freeze selected users (no money movement)", permissions=["freeze"])
    def freeze_users(self, request, queryset):
        for user in queryset:
            user_freeze(actor=request.user, user=user, reason="admin action")
        self.message_user(request, "Froze the selected user(s).", messages.SUCCESS)

    @admin.action(description="Unfreeze selected users", permissions=["freeze"])
    def unfreeze_users(self, request, queryset):
        for user in queryset:
            user_unfreeze(actor=request.user, user=user, reason="admin action")
        self.message_user(request, "Unfroze the selected user(s).", messages.SUCCESS)

    @admin.action(description="Deactivate selected users", permissions=["change"])
    def deactivate_users(self, request, queryset):
        for user in queryset.exclude(pk=request.user.pk):
            user_deactivate(actor=request.user, user=user)
        self.message_user(request, "Deactivated the selected user(s).", messages.SUCCESS)

    def has_freeze_permission(self, request) -> bool:
        return request.user.has_perm("operations.freeze_user")
