"""Admin building blocks shared by every app."""

from collections.abc import Callable

from django.contrib import admin, messages
from django.db.models import Model, QuerySet

from core.errors import DomainError


class ReadOnlyAdmin(admin.ModelAdmin):
    """Viewable by every role with the view permission; nobody writes through the form. Records
    shown this way change only through services (admin actions call them)."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


def admin_decide_each(
    modeladmin: admin.ModelAdmin,
    request,
    queryset: QuerySet,
    decide: Callable[[Model], object],
    *,
    noun: str,
    verb: str,
) -> None:
    """Apply a service decision (approve, reject …) to each selected object in primary-key order.
    A refused one is reported with its reason and the others go on; the count decided is shown."""
    done = 0
    for obj in queryset.order_by("pk"):
        try:
            decide(obj)
            done += 1
        except DomainError as error:
            modeladmin.message_user(request, f"{noun.capitalize()} {obj.pk}: {error.detail}", messages.WARNING)
    modeladmin.message_user(request, f"{done} {noun}(s) {verb}.", messages.SUCCESS)
