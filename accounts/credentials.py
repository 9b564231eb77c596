"""What authentication needs to know about a credential, read through the shared cache.

An API key resolves to its client, and a person or end user to whether their client is still
active, on every request. Both answers are cached in the shared cache (database or Redis) for
`AUTH_CACHE_SECONDS` (default 5): that is the bound on how long a revoked key or a deactivated
client may still authenticate. The services that revoke a key or (de)activate a client forget the
entries they change in the same breath (`credentials_forget`), so in practice the change is
immediate; the TTL only bounds what another process may have cached between the two.

In front of the shared cache, each process keeps the API-key records it has read, each only until
the moment its shared entry expires (read from the database at `loaded_at`, good until `loaded_at
+ AUTH_CACHE_SECONDS`), so a request with a known key costs no round trip at all and the bound
stays AUTH_CACHE_SECONDS: a key revoked (or a client deactivated) in one process is refused there
and in every process without it cached at once, and everywhere within AUTH_CACHE_SECONDS of when
the record was read. At most `_LOCAL_MAX_KEYS` records are kept per process.
"""

import time
from dataclasses import asdict, dataclass, replace
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
    loaded_at: float  # time.time() when read from the database

    @property
    def expires(self) -> float:
        return self.loaded_at + settings.AUTH_CACHE_SECONDS


# prefix → record, per process; see the module docstring.
_local: dict[str, ApiKeyRecord] = {}
_LOCAL_MAX_KEYS = 10_000


def _api_key_cache_key(prefix: str) -> str:
    return f"auth:api_key:{prefix}"


def _client_cache_key(client_id: int) -> str:
    return f"auth:client_active:{client_id}"


def api_key_record_cached(*, prefix: str) -> ApiKeyRecord | None:
    """The key with this prefix if this process or the shared cache knows it (no database query)."""
    record = _local.get(prefix)
    if record is not None and time.time() < record.expires:
        return record
    cached = cache.get(_api_key_cache_key(prefix))
    if cached is None or "loaded_at" not in cached:
        _local.pop(prefix, None)
        return None
    record = ApiKeyRecord(**cached)
    # Kept no longer than AUTH_CACHE_SECONDS from now either: `loaded_at` is another machine's
    # clock, and one running ahead must not stretch the bound.
    _remember(prefix, replace(record, loaded_at=min(record.loaded_at, time.time())))
    return record


def _remember(prefix: str, record: ApiKeyRecord) -> None:
    if len(_local) >= _LOCAL_MAX_KEYS:
        _local.clear()
    _local[prefix] = record


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
        loaded_at=time.time(),
    )
    cache.set(_api_key_cache_key(prefix), asdict(record), timeout=settings.AUTH_CACHE_SECONDS)
    _remember(prefix, record)
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
    for prefix in prefixes:
        _local.pop(prefix, None)
    if client_id is not None:
        for prefix, record in list(_local.items()):
            if record.client_id == client_id:
                _local.pop(prefix, None)
        keys.append(_client_cache_key(client_id))
        keys += [
            _api_key_cache_key(prefix)
            for prefix in ApiKey.objects.filter(client_id=client_id).values_list("prefix", flat=True)
        ]
    if keys:
        cache.delete_many(keys)
