"""Writes for clients, their end users and API keys."""

import uuid
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts.api_keys import api_key_generate
from accounts.errors import UserAlreadyExistsError
from accounts.models import ApiKey, Client, User


def client_create(*, name: str, slug: str = "", fee_bps: int | None = None) -> Client:
    """Create a tenant. The slug defaults to the slugified name."""
    fields = {"name": name, "slug": slug or slugify(name)[:100]}
    if fee_bps is not None:
        fields["fee_bps"] = fee_bps
    return Client.objects.create(**fields)


def api_key_create(*, client: Client, name: str = "", expires_at: datetime | None = None) -> tuple[ApiKey, str]:
    """Issue a key for `client`. Returns the row and the plaintext, which is never stored or shown again."""
    prefix, hashed_secret, plaintext = api_key_generate()
    with transaction.atomic():
        key = ApiKey.objects.create(
            client=client, name=name, prefix=prefix, hashed_secret=hashed_secret, expires_at=expires_at
        )
    return key, plaintext


def api_key_revoke(*, key: ApiKey) -> ApiKey:
    """Revoke a key (idempotent: a revoked key keeps its first revocation time)."""
    ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    key.refresh_from_db(fields=["revoked_at"])
    return key


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


def user_deactivate(*, user: User) -> User:
    """Soft-delete: the user and its history stay; the ledger refuses to move money for an
    inactive user, and its end-user tokens stop authenticating. Idempotent."""
    User.objects.filter(pk=user.pk).update(is_active=False)
    user.is_active = False
    return user
