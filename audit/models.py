"""The append-only audit log of staff actions and API key lifecycle events."""

from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """One staff action or key lifecycle event, written in the transaction that made the change.

    Rows are never updated or deleted: admin grants no change or delete permission, and on
    PostgreSQL a trigger refuses UPDATE and DELETE (on SQLite, UPDATE; migration 0002). Foreign keys
    PROTECT: an audited user or client cannot be deleted (they are deactivated instead). The object
    is stored as type, id and text so an event can point at any model, including deleted rows.
    """

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor_repr = models.CharField(max_length=200, blank=True)
    client = models.ForeignKey(
        "accounts.Client", on_delete=models.PROTECT, null=True, blank=True, related_name="audit_events"
    )
    action = models.CharField(max_length=100, db_index=True)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["client", "-created_at"]),
            models.Index(fields=["object_type", "object_id"]),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type} {self.object_id} by {self.actor_repr or 'system'}"
