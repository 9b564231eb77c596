"""The audit log in admin (read-only), and the mixin that sends plain admin edits through the
app's audited service."""

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist
from django.db import models

from audit.models import AuditEvent
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
    """Sends every add and change made through the form to `edit_service`, the app's service
    that saves the object and writes its audit event in one transaction (admin itself writes no
    audit row). Money never changes here: money-moving models are read-only and their actions
    call services that audit themselves.

    `edit_service(<model name>=obj, actor=…, created=…, changes={field: (before, after)}, save=…)`.
    """

    edit_service: Callable[..., None]

    def save_model(self, request, obj, form, change):
        fields = [name for name in form.changed_data if not _is_many_to_many(obj, name)]
        save = super().save_model
        self._edit(request, obj, form, change, fields=fields, save=lambda: save(request, obj, form, change))

    def save_related(self, request, form, formsets, change):
        many = [name for name in form.changed_data if _is_many_to_many(form.instance, name)]
        if not many:
            return super().save_related(request, form, formsets, change)  # nothing the audit covers
        save = super().save_related
        self._edit(
            request, form.instance, form, change, fields=many, save=lambda: save(request, form, formsets, change)
        )

    def _edit(self, request, obj, form, change, *, fields: list[str], save: Callable[[], None]) -> None:
        changes = {
            name: (_plain(form.initial.get(name)) if change else None, _plain(form.cleaned_data.get(name)))
            for name in fields
        }
        type(self).edit_service(
            **{obj._meta.model_name: obj}, actor=request.user, created=not change, changes=changes, save=save
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
