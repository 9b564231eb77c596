"""Events, webhook endpoints and deliveries in admin.

Events and attempts are read-only. Endpoints are created, changed, rotated and deleted through
the services (audited); a new or rotated secret is shown once, on the page that follows, and never
again. Deliveries can be retried.
"""

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse

from core.errors import DomainError
from events.models import DeliveryAttempt, Event, WebhookDelivery, WebhookEndpoint
from events.services import (
    webhook_delivery_retry,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_rotate_secret,
    webhook_endpoint_update,
)
from events.url_safety import UnsafeWebhookUrlError, webhook_url_check


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ("public_id", "type", "client", "created_at")
    list_filter = ("type", "client")
    search_fields = ("public_id",)
    date_hierarchy = "created_at"
    list_select_related = ("client",)
    fields = ("public_id", "type", "client", "created_at", "data")
    readonly_fields = fields


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=2000, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        choices=Event.Type.choices, required=False, widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every type.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ("client", "url", "event_types", "description", "is_enabled")

    def clean_url(self):
        url = self.cleaned_data["url"]
        try:
            webhook_url_check(url)
        except UnsafeWebhookUrlError as error:
            raise forms.ValidationError(error.detail) from None
        return url


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ("url", "client", "is_enabled", "failing_since", "disabled_at", "created_at")
    list_filter = ("is_enabled", "client")
    search_fields = ("url", "description", "client__name")
    list_select_related = ("client",)
    readonly_fields = ("failing_since", "disabled_at", "created_at", "updated_at")
    actions = ["rotate_secrets"]

    def get_readonly_fields(self, request, obj=None):
        # An endpoint stays with the client it was registered for.
        return [*self.readonly_fields, "client"] if obj is not None else list(self.readonly_fields)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            webhook_endpoint_update(
                endpoint=WebhookEndpoint.objects.get(pk=obj.pk), url=data["url"],
                event_types=list(data["event_types"]), description=data["description"],
                is_enabled=data["is_enabled"], actor=request.user,
            )
            return
        endpoint, secret = webhook_endpoint_create(
            client_id=data["client"].pk, url=data["url"], event_types=list(data["event_types"]),
            description=data["description"], actor=request.user,
        )
        if not data["is_enabled"]:
            webhook_endpoint_update(endpoint=endpoint, is_enabled=False, actor=request.user)
        obj.pk = endpoint.pk
        request.webhook_secrets = [(endpoint, secret)]

    def response_add(self, request, obj, post_url_continue=None):
        return self._secrets_page(request, request.webhook_secrets)

    def get_deleted_objects(self, objs, request):
        # An endpoint's deliveries and their attempts go with it (they are read-only on their own).
        deleted, model_count, _, protected = super().get_deleted_objects(objs, request)
        return deleted, model_count, set(), protected

    def delete_model(self, request, obj):
        webhook_endpoint_delete(endpoint=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for endpoint in queryset:
            webhook_endpoint_delete(endpoint=endpoint, actor=request.user)

    @admin.action(description="Rotate the signing secret of selected endpoints", permissions=["change"])
    def rotate_secrets(self, request, queryset):
        rotated = [webhook_endpoint_rotate_secret(endpoint=endpoint, actor=request.user) for endpoint in queryset]
        return self._secrets_page(request, rotated)

    def _secrets_page(self, request, secrets: list[tuple[WebhookEndpoint, str]]):
        response = TemplateResponse(
            request,
            "admin/events/webhookendpoint/secret_shown_once.html",
            {**self.admin_site.each_context(request), "opts": self.opts, "secrets": secrets,
             "title": "Webhook signing secret"},
        )
        # This response is the only copy of the secret: no cache may keep it.
        response["Cache-Control"] = "no-store"
        return response


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    fields = ("attempted_at", "response_status", "error", "latency_ms", "response_body", "is_success")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("pk", "event", "endpoint", "status", "attempts", "next_attempt_at", "last_attempt_at")
    list_filter = ("status",)
    search_fields = ("event__public_id", "endpoint__url")
    list_select_related = ("event", "endpoint")
    fields = ("event", "endpoint", "status", "attempts", "next_attempt_at", "last_attempt_at", "delivered_at",
              "created_at")
    readonly_fields = fields
    inlines = [DeliveryAttemptInline]
    actions = ["retry"]

    @admin.action(description="Retry selected deliveries now", permissions=["retry"])
    def retry(self, request, queryset):
        done = 0
        for delivery in queryset:
            try:
                webhook_delivery_retry(delivery=delivery)
                done += 1
            except DomainError as error:
                self.message_user(request, f"Delivery {delivery.pk}: {error.detail}", messages.WARNING)
        self.message_user(request, f"{done} deliveries queued.", messages.SUCCESS)

    def has_retry_permission(self, request) -> bool:
        return request.user.has_perm("events.change_webhookendpoint")
