"""Writes for clients and API keys."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts.api_keys import api_key_generate
from accounts.models import ApiKey, Client


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
