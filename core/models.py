"""Platform-wide records that belong to no business app."""

from django.db import models


class IdempotencyRecord(models.Model):
    """The stored outcome of one `Idempotency-Key` request (see core.api.idempotency).

    The row is written in the same database transaction as the request's effect, so a committed
    effect always has its record and a rolled-back one never does. `scope` is the caller's tenant
    (a client, an end user, a staff member): keys of different callers never collide.
    """

    scope = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64, help_text="SHA-256 of method, path and parsed body.")
    status_code = models.PositiveSmallIntegerField(null=True)
    # The rendered JSON text, not a JSONField: a replay must return the body byte for byte, and
    # PostgreSQL's jsonb would reorder its keys.
    response_body = models.TextField(null=True)
    content_type = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="core_idempotencyrecord_scope_key_unique")]

    def __str__(self) -> str:
        return f"{self.scope} {self.key} → {self.status_code}"
