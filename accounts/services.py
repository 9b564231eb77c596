"""Writes for clients, their end users and API keys.

Lifecycle changes (clients, keys, deactivation, freezes) write their audit event in the same
transaction as the change, whoever calls: admin, the API or a management command; a user's
freeze, unfreeze and deactivation also write the client's event (events.services.event_record). `actor` is the
staff member acting, or None for a client's API key or the platform itself.
"""

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts.api_keys import api_key_generate
from accounts.credentials import credentials_forget
from accounts.errors import ClientAlreadyExistsError, UserAlreadyExistsError
from accounts.models import ApiKey, Client, User
from audit.services import audit_record
from core.errors import InvalidInputError
from events.services import event_record


def client_create(*, name: str, slug: str = "", fee_bps: int | None = None, actor: User | None = None) -> Client:
    """Create a tenant. The slug defaults to the slugified name; a taken slug →
    ClientAlreadyExistsError, nothing written."""
    fields: dict[str, str | int] = {"name": name, "slug": slug or slugify(name)[:100]}
    if fee_bps is not None:
        fields["fee_bps"] = fee_bps
    with transaction.atomic():
        try:
            with transaction.atomic():  # a savepoint: the unique slug decides under concurrency
                client = Client.objects.create(**fields)
        except IntegrityError:
            raise ClientAlreadyExistsError(f"A client with slug {fields['slug']!r} already exists.") from None
        audit_record(
            actor=actor, action="accounts.client_create", obj=client, client=client,
            after={"name": client.name, "slug": client.slug, "fee_bps": client.fee_bps},
        )
    return client


def api_key_create(
    *, client: Client, name: str = "", expires_at: datetime | None = None, actor: User | None = None
) -> tuple[ApiKey, str]:
    """Issue a key for `client`. Returns the row and the plaintext, which is never stored or
    shown again. The audit event names the key by its prefix, never its secret."""
    prefix, hashed_secret, plaintext = api_key_generate()
    with transaction.atomic():
        key = ApiKey.objects.create(
            client=client, name=name, prefix=prefix, hashed_secret=hashed_secret, expires_at=expires_at
        )
        audit_record(
            actor=actor, action="accounts.api_key_create", obj=key, client=client,
            after={"prefix": key.prefix, "name": key.name, "expires_at": key.expires_at},
        )
    return key, plaintext


def api_key_revoke(*, key: ApiKey, actor: User | None = None) -> ApiKey:
    """Revoke a key (idempotent: a revoked key keeps its first revocation time, and only the
    call that revoked it writes the audit event)."""
    with transaction.atomic():
        revoked = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        key.refresh_from_db(fields=["revoked_at"])
        if revoked:
            audit_record(
                actor=actor, action="accounts.api_key_revoke", obj=key, client=key.client_id,
                before={"revoked_at": None}, after={"revoked_at": key.revoked_at},
            )
        # Now, and again after commit, so a request racing the commit cannot keep the key cached
        # as not yet revoked.
        credentials_forget(prefixes=[key.prefix])
        transaction.on_commit(lambda: credentials_forget(prefixes=[key.prefix]))
    return key


def client_deactivate(*, client: Client, actor: User | None, reason: str) -> Client:
    """Cut a client off: from the next request on, none of its credentials authenticate (API
    keys, end-user tokens it minted, its staff's logins, JWTs and sessions → 401
    `client_inactive`). Nothing is revoked: keys and tokens work again after
    `client_reactivate`. Idempotent; only the call that changed the flag writes the audit event.
    Other processes may serve a cached answer for up to AUTH_CACHE_SECONDS."""
    return _client_set_active(client=client, actor=actor, is_active=False, reason=reason)


def client_reactivate(*, client: Client, actor: User | None, reason: str) -> Client:
    """Let a deactivated client's existing credentials authenticate again."""
    return _client_set_active(client=client, actor=actor, is_active=True, reason=reason)


def _client_set_active(*, client: Client, actor: User | None, is_active: bool, reason: str) -> Client:
    if not reason.strip():
        raise InvalidInputError("A reason is required.", errors={"reason": ["A reason is required."]})
    with transaction.atomic():
        changed = Client.objects.filter(pk=client.pk, is_active=not is_active).update(is_active=is_active)
        client.is_active = is_active
        if changed:
            audit_record(
                actor=actor, action="accounts.client_reactivate" if is_active else "accounts.client_deactivate",
                obj=client, client=client,
                before={"is_active": not is_active}, after={"is_active": is_active, "reason": reason},
            )
        # Now, and again after commit (see api_key_revoke).
        credentials_forget(client_id=client.pk)
        transaction.on_commit(lambda: credentials_forget(client_id=client.pk))
    return client


def user_create(*, client: Client, external_id: str, email: str = "", name: str = "") -> User:
    """Create an end user of `client`.

    The username is generated (end users never log in with a password; they get end-user tokens
    from their client), and the password is unusable. `external_id` is unique per client: the
    database constraint decides under concurrency → UserAlreadyExistsError.
    """
    user = User(
        client=client,
        kind=User.Kind.END_USER,
        username=f"user-{uuid.uuid4().hex}",
        external_id=external_id,
        email=email,
        name=name,
    )
    user.set_unusable_password()
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        raise UserAlreadyExistsError(f"A user with external_id {external_id!r} already exists.") from None
    return user


# What a person edited in a form: field name -> (value before, value after), as plain JSON values.
FieldChanges = dict[str, tuple[Any, Any]]


def client_edit(*, client: Client, actor: User, created: bool, changes: FieldChanges, save: Callable[[], None]) -> None:
    """Save a client edited as a whole (admin's form) and audit the fields it changed, in one
    transaction. `save` writes the object (and, for a form, its relations). Activity changes go
    through client_deactivate/client_reactivate, which the form does not offer."""
    _edit_record(obj=client, actor=actor, created=created, changes=changes, save=save)


def user_edit(*, user: User, actor: User, created: bool, changes: FieldChanges, save: Callable[[], None]) -> None:
    """Save a user edited as a whole (admin's form) and audit the fields it changed, in one
    transaction. Password fields are saved but never reach the audit log, not even hashed."""
    _edit_record(obj=user, actor=actor, created=created, changes=changes, save=save)


def _edit_record(
    *, obj: Client | User, actor: User, created: bool, changes: FieldChanges, save: Callable[[], None]
) -> None:
    changes = {name: values for name, values in changes.items() if "password" not in name}
    with transaction.atomic():
        save()
        if created or changes:
            audit_record(
                actor=actor,
                action=f"accounts.{obj._meta.model_name}_{'create' if created else 'change'}",
                obj=obj,
                before=None if created else {name: before for name, (before, _) in changes.items()},
                after={name: after for name, (_, after) in changes.items()},
            )


def user_update(
    *, user: User, external_id: str | None = None, email: str | None = None, name: str | None = None
) -> User:
    """Change an end user's details; None leaves a field as it is. UserAlreadyExistsError when
    the new external_id is taken within the client."""
    changes = {
        field: value
        for field, value in {"external_id": external_id, "email": email, "name": name}.items()
        if value is not None
    }
    if not changes:
        return user
    for field, value in changes.items():
        setattr(user, field, value)
    try:
        with transaction.atomic():
            user.save(update_fields=list(changes))
    except IntegrityError:
        user.refresh_from_db()
        raise UserAlreadyExistsError(f"A user with external_id {external_id!r} already exists.") from None
    return user


def user_deactivate(*, user: User, actor: User | None = None) -> User:
    """Soft-delete: the user and its history stay; the ledger refuses to move money for an
    inactive user, and its end-user tokens stop authenticating. Idempotent."""
    with transaction.atomic():
        changed = User.objects.filter(pk=user.pk, is_active=True).update(is_active=False)
        user.is_active = False
        if changed:
            audit_record(
                actor=actor, action="accounts.user_deactivate", obj=user, client=user.client_id,
                before={"is_active": True}, after={"is_active": False},
            )
            event_record(type="user.deactivated", obj=user)
    return user


def user_freeze(*, user: User, actor: User, reason: str = "") -> User:
    """Freeze a user: the ledger refuses their movements (`user_frozen`) until unfrozen."""
    return _user_set_frozen(user=user, actor=actor, is_frozen=True, reason=reason)


def user_unfreeze(*, user: User, actor: User, reason: str = "") -> User:
    return _user_set_frozen(user=user, actor=actor, is_frozen=False, reason=reason)


def _user_set_frozen(*, user: User, actor: User, is_frozen: bool, reason: str) -> User:
    with transaction.atomic():
        # Guarded update: only the call that actually changed the flag writes the audit event.
        changed = User.objects.filter(pk=user.pk, is_frozen=not is_frozen).update(is_frozen=is_frozen)
        user.is_frozen = is_frozen
        if changed:
            audit_record(
                actor=actor, action="accounts.user_freeze" if is_frozen else "accounts.user_unfreeze",
                obj=user, client=user.client_id,
                before={"is_frozen": not is_frozen}, after={"is_frozen": is_frozen, "reason": reason},
            )
            event_record(type="user.frozen" if is_frozen else "user.unfrozen", obj=user)
    return user
