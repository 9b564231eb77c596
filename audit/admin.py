"""The audit log in admin (read-only), and the mixin that audits plain admin edits."""

from typing import Any

from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist
from django.db import models

from audit.models import AuditEvent
from audit.services import audit_record
from core.admin import ReadOnlyAdmin


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Append-only: nobody adds, changes or deletes audit events through admin."""

    list_display = ("created_at", "action", "actor_repr", "client", "object_type", "object_id", "object_repr",
                    "request_id")
    list_filter = ("action", "object_type", "client")
    search_fields = ("action", "actor_repr", "object_id", "object_repr", "request_id")
    date_hierarchy = "created_at"
    list_select_related = ("client",)
    readonly_fields = [field.name for field in AuditEvent._meta.fields]


class AuditedModelAdmin(admin.ModelAdmin):
    """Writes an audit event for every add and change made through the form.

    Admin runs `save_model` and `save_related` inside one transaction (changeform_view is
    atomic), so the event commits with the change. Money never changes here: money-moving models
    are read-only and their actions call services that audit themselves.
    """

    audit_action_prefix = ""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        self._audit(request, obj, form, change, fields=[f for f in form.changed_data if not _is_many_to_many(obj, f)])

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        many = [name for name in form.changed_data if _is_many_to_many(form.instance, name)]
        if many:
            self._audit(request, form.instance, form, change, fields=many)

    def _audit(self, request, obj, form, change, *, fields: list[str]) -> None:
        # Password fields never reach the log, not even hashed.
        fields = [name for name in fields if "password" not in name]
        if change and not fields:
            return
        label = obj._meta.model_name
        audit_record(
            actor=request.user,
            action=f"{obj._meta.app_label}.{label}_{'change' if change else 'create'}",
            obj=obj,
            before={name: _plain(form.initial.get(name)) for name in fields} if change else None,
            after={name: _plain(form.cleaned_data.get(name)) for name in fields},
        )


def _is_many_to_many(obj: models.Model, name: str) -> bool:
    try:
        return bool(obj._meta.get_field(name).many_to_many)
    except FieldDoesNotExist:  # a form-only field
        return False


def _plain(value: Any) -> Any:
    """Form values as JSON: model instances by primary key, querysets and lists as sorted keys."""
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, models.QuerySet | list | tuple | set):
        return sorted(_plain(item) for item in value)
    return value
