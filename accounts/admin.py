"""Clients, users and API keys in admin: lists, search, filters and audited edits.

These are the accounts app's own views of its models, unregistered: the back office
(`operations.admin`) registers each page once, extended with what reaches across apps (issuing
keys, freezing, the ledger and order inlines), so accounts imports nothing above it and every
admin page has one owner.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Count, Q
from django.template.response import TemplateResponse

from accounts.models import ApiKey, Client
from accounts.services import client_deactivate, client_edit, client_reactivate, user_edit
from audit.admin import AuditedModelAdmin


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    fields = ("prefix", "name", "created_at", "expires_at", "last_used_at", "revoked_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # keys are issued on their own page, which shows the plaintext once


class ClientStatusForm(forms.Form):
    reason = forms.CharField(max_length=500, help_text="Recorded in the audit log.")


class ClientAdmin(AuditedModelAdmin):
    edit_service = staticmethod(client_edit)
    list_display = ("name", "slug", "is_active", "fee_bps", "user_count", "active_key_count", "created_at")
    list_filter = ("is_active",)
    search_fields = ("name", "slug")
    date_hierarchy = "created_at"
    fields = ("name", "slug", "is_active", "fee_bps", "created_at")
    # Active changes only through the audited actions, which ask for a reason.
    readonly_fields = ("is_active", "created_at")
    inlines = [ApiKeyInline]
    actions = ["deactivate_clients", "reactivate_clients"]

    @admin.action(description="Deactivate selected clients (every credential refused)", permissions=["change"])
    def deactivate_clients(self, request, queryset):
        return self._set_active(
            request, queryset, client_deactivate, "deactivate_clients", "Deactivate clients",
            "Every API key, end-user token, staff login and session of these clients will be refused "
            "(401 client_inactive). Nothing is revoked: reactivating restores them.",
        )

    @admin.action(description="Reactivate selected clients", permissions=["change"])
    def reactivate_clients(self, request, queryset):
        return self._set_active(
            request, queryset, client_reactivate, "reactivate_clients", "Reactivate clients",
            "The existing API keys, tokens and logins of these clients will authenticate again.",
        )

    def _set_active(self, request, queryset, change, action: str, title: str, explanation: str):
        form = ClientStatusForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            for client in queryset.order_by("pk"):
                change(client=client, actor=request.user, reason=form.cleaned_data["reason"])
            self.message_user(request, f"{title}: {queryset.count()} client(s).", messages.SUCCESS)
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts, "title": title, "explanation": explanation, "form": form,
            "clients": queryset.order_by("pk"), "action": action,
        }
        return TemplateResponse(request, "admin/accounts/client/set_active.html", context)

    def get_queryset(self, request):
        # Counted in the list query itself: one query for the page, not two per row.
        return (
            super()
            .get_queryset(request)
            .annotate(
                user_total=Count("users", distinct=True),
                active_key_total=Count("api_keys", filter=Q(api_keys__revoked_at__isnull=True), distinct=True),
            )
        )

    @admin.display(description="users", ordering="user_total")
    def user_count(self, client: Client) -> int:
        return client.user_total  # type: ignore[attr-defined]  # annotated by get_queryset

    @admin.display(description="active keys", ordering="active_key_total")
    def active_key_count(self, client: Client) -> int:
        return client.active_key_total  # type: ignore[attr-defined]  # annotated by get_queryset

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # tenants are deactivated, never deleted


class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("prefix", "client", "name", "is_revoked", "created_at", "last_used_at", "expires_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter), "client")
    search_fields = ("prefix", "name", "client__name", "client__slug")
    date_hierarchy = "created_at"
    list_select_related = ("client",)
    fields = ("client", "name", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at")
    readonly_fields = fields

    @admin.display(boolean=True, description="revoked")
    def is_revoked(self, key: ApiKey) -> bool:
        return key.revoked_at is not None

    def has_add_permission(self, request) -> bool:
        return False  # issued from the client page, where the plaintext is shown once

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class UserAdmin(AuditedModelAdmin, DjangoUserAdmin):
    edit_service = staticmethod(user_edit)
    list_display = ("username", "kind", "client", "external_id", "email", "is_active", "is_frozen", "is_staff",
                    "created_at")
    list_filter = ("kind", "is_active", "is_frozen", "is_staff", "groups", "client")
    search_fields = ("username", "external_id", "email", "name", "client__name", "client__slug")
    date_hierarchy = "created_at"
    list_select_related = ("client",)
    ordering = ("-id",)
    # Frozen changes only through the audited freeze actions, never by ticking a box.
    readonly_fields = ("is_frozen", "last_login", "date_joined", "created_at")
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Identity", {"fields": ("kind", "client", "external_id", "name", "first_name", "last_name", "email")}),
        ("Status", {"fields": ("is_active", "is_frozen")}),
        ("Staff access", {"fields": ("is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined", "created_at")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "kind", "client", "external_id", "email",
                                                 "usable_password", "password1", "password2")}),
    )
    # Only a superuser grants roles or staff access: an Operations user who may change users must
    # not be able to promote themselves (or anyone) into another role.
    privilege_fields = ("is_staff", "is_superuser", "groups", "user_permissions")

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += list(self.privilege_fields)
        return fields

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # users are deactivated, never deleted (history stays for audit)
