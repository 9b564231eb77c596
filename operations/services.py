"""Back-office actions: each calls the owning service and writes its audit event in one transaction.

Admin (and any staff endpoint) calls these, never the models: the audit row then exists exactly
when the change does.
"""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts.models import ApiKey, Client, User
from accounts.services import api_key_create, api_key_revoke, client_create
from audit.services import audit_record
from core.errors import ConflictError, InvalidInputError
from operations.models import ReviewItem


def staff_client_create(*, actor: User, name: str, slug: str = "", fee_bps: int | None = None) -> Client:
    with transaction.atomic():
        client = client_create(name=name, slug=slug, fee_bps=fee_bps)
        audit_record(
            actor=actor, action="accounts.client_create", obj=client, client=client,
            after={"name": client.name, "slug": client.slug, "fee_bps": client.fee_bps},
        )
    return client


def staff_api_key_issue(
    *, actor: User, client: Client, name: str = "", expires_at: datetime | None = None
) -> tuple[ApiKey, str]:
    """Issue a key; returns the row and the plaintext (show it once). The audit row has no secret."""
    with transaction.atomic():
        key, plaintext = api_key_create(client=client, name=name, expires_at=expires_at)
        audit_record(
            actor=actor, action="accounts.api_key_create", obj=key, client=client,
            after={"prefix": key.prefix, "name": key.name, "expires_at": key.expires_at},
        )
    return key, plaintext


def staff_api_key_revoke(*, actor: User, key: ApiKey) -> ApiKey:
    with transaction.atomic():
        before = key.revoked_at
        key = api_key_revoke(key=key)
        if before is None:
            audit_record(
                actor=actor, action="accounts.api_key_revoke", obj=key, client=key.client_id,
                before={"revoked_at": None}, after={"revoked_at": key.revoked_at},
            )
    return key


def user_freeze(*, actor: User, user: User, reason: str = "") -> User:
    """Freeze a user: the ledger refuses their movements (`user_frozen`) until unfrozen."""
    return _user_set_frozen(actor=actor, user=user, is_frozen=True, reason=reason)


def user_unfreeze(*, actor: User, user: User, reason: str = "") -> User:
    return _user_set_frozen(actor=actor, user=user, is_frozen=False, reason=reason)


def _user_set_frozen(*, actor: User, user: User, is_frozen: bool, reason: str) -> User:
    with transaction.atomic():
        # Guarded update: the audit event is written only by the call that actually changed it.
        changed = User.objects.filter(pk=user.pk, is_frozen=not is_frozen).update(is_frozen=is_frozen)
        user.is_frozen = is_frozen
        if changed:
            audit_record(
                actor=actor, action="accounts.user_freeze" if is_frozen else "accounts.user_unfreeze",
                obj=user, client=user.client_id,
                before={"is_frozen": not is_frozen}, after={"is_frozen": is_frozen, "reason": reason},
            )
    return user


def staff_user_deactivate(*, actor: User, user: User) -> User:
    """Deactivate a login or end user (never deleted: history stays for audit)."""
    with transaction.atomic():
        changed = User.objects.filter(pk=user.pk, is_active=True).update(is_active=False)
        user.is_active = False
        if changed:
            audit_record(
                actor=actor, action="accounts.user_deactivate", obj=user, client=user.client_id,
                before={"is_active": True}, after={"is_active": False},
            )
    return user


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
