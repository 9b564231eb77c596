"""Back-office actions of the operations app itself, each audited in its own transaction.

Lifecycle changes owned by other apps (clients, API keys, freezes, deactivation, adjustments,
rates) are audited by those apps' services, so every caller records them.
"""

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from audit.services import audit_record
from core.errors import ConflictError, InvalidInputError
from operations.models import ReviewItem


def review_item_resolve(*, actor: User, item: ReviewItem, status: str, note: str = "") -> ReviewItem:
    """Clear or escalate an open review item (an escalated one may still be cleared)."""
    if status not in (ReviewItem.Status.CLEARED, ReviewItem.Status.ESCALATED):
        raise InvalidInputError(f"A review item is resolved as cleared or escalated, not {status!r}.")
    allowed_from = [ReviewItem.Status.OPEN] + ([ReviewItem.Status.ESCALATED] if status == "cleared" else [])
    with transaction.atomic():
        before = ReviewItem.objects.select_for_update().get(pk=item.pk)
        if before.status not in allowed_from:
            raise ConflictError(f"Review item {item.pk} is already {before.status}.")
        now = timezone.now()
        ReviewItem.objects.filter(pk=item.pk).update(status=status, note=note, resolved_by=actor, resolved_at=now)
        item.refresh_from_db()
        audit_record(
            actor=actor, action=f"operations.review_item_{status}", obj=item, client=item.client_id,
            before={"status": before.status}, after={"status": status, "note": note},
        )
    return item
