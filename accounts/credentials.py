"""What authentication needs to know about a credential, read through the shared cache.

An API key resolves to its client, and a person or end user to whether their client is still
active, on every request. Both answers are cached in the shared cache (database or Redis) for
`AUTH_CACHE_SECONDS` (default 5): that is the bound on how long a revoked key or a deactivated
client may still authenticate. The services that revoke a key or (de)activate a client forget the
entries they change in the same breath (`credentials_forget`), so in practice the change is
immediate; the TTL only bounds what another process may have cached between the two.
"""

from dataclasses import asdict, dataclass
from datetime import datetime

from django.conf import settings
from django.core.cache import cache

from accounts.models import ApiKey, Client


@dataclass(frozen=True)
class ApiKeyRecord:
    key_id: int
    client_id: int
    hashed_secret: str
    is_revoked: bool
    expires_at: datetime | None
    last_used_at: datetime | None
    client_is_active: bool


def _api_key_cache_key(prefix: str) -> str:
    return f"auth:api_key:{prefix}"


def _client_cache_key(client_id: int) -> str:
    return f"auth:client_active:{client_id}"


def api_key_record_cached(*, prefix: str) -> ApiKeyRecord | None:
    """The key with this prefix if the cache knows it (no database query)."""
    cached = cache.get(_api_key_cache_key(prefix))
    return ApiKeyRecord(**cached) if cached is not None else None


def api_key_record_load(*, prefix: str) -> ApiKeyRecord | None:
    """The key with this prefix from the database, cached for AUTH_CACHE_SECONDS. Unknown
    prefixes are not cached (the failed-authentication throttle bounds what they cost)."""
    key = ApiKey.objects.select_related("client").filter(prefix=prefix).first()
    if key is None:
        return None
    record = ApiKeyRecord(
        key_id=key.pk,
        client_id=key.client_id,
        hashed_secret=key.hashed_secret,
        is_revoked=key.revoked_at is not None,
        expires_at=key.expires_at,
        last_used_at=key.last_used_at,
        client_is_active=key.client.is_active,
    )
    cache.set(_api_key_cache_key(prefix), asdict(record), timeout=settings.AUTH_CACHE_SECONDS)
    return record


def client_is_active(*, client_id: int) -> bool:
    """Whether the client may still act (cached for AUTH_CACHE_SECONDS)."""
    cached = cache.get(_client_cache_key(client_id))
    if cached is not None:
        return bool(cached)
    is_active = Client.objects.filter(pk=client_id, is_active=True).exists()
    cache.set(_client_cache_key(client_id), int(is_active), timeout=settings.AUTH_CACHE_SECONDS)
    return is_active


def credentials_forget(*, client_id: int | None = None, prefixes: list[str] | tuple[str, ...] = ()) -> None:
    """Drop cached answers about these keys and this client, so the next request reads the
    database. Called by the services that revoke keys and (de)activate clients."""
    keys = [_api_key_cache_key(prefix) for prefix in prefixes]
    if client_id is not None:
        keys.append(_client_cache_key(client_id))
        keys += [
            _api_key_cache_key(prefix)
            for prefix in ApiKey.objects.filter(client_id=client_id).values_list("prefix", flat=True)
        ]
    if keys:
        cache.delete_many(keys)
