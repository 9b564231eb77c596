"""API key format and hashing: `<prefix>.<secret>`, only an HMAC of the secret is stored.

The secret has 256 bits of entropy, so a keyed HMAC-SHA256 (pepper from settings, never in the
database) is enough: no slow password hash is needed, and lookups stay O(1) by prefix. Comparison
is constant-time. Modelled on djangorestframework-api-key's `prefix.secret` scheme; written here
because that package stores a slow password hash per key, which costs ~100 ms on every request.
"""

import hashlib
import hmac
import secrets

from django.conf import settings

PREFIX_BYTES = 6
SECRET_BYTES = 32


def api_key_generate() -> tuple[str, str, str]:
    """A new key: (prefix, hashed_secret, plaintext). Show the plaintext once; store the rest."""
    prefix = secrets.token_hex(PREFIX_BYTES)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    return prefix, api_key_hash(secret), f"{prefix}.{secret}"


def api_key_hash(secret: str) -> str:
    return hmac.new(settings.API_KEY_PEPPER.encode(), secret.encode(), hashlib.sha256).hexdigest()


def api_key_split(plaintext: str) -> tuple[str, str] | None:
    prefix, dot, secret = plaintext.partition(".")
    if not dot or len(prefix) != PREFIX_BYTES * 2 or not secret:
        return None
    return prefix, secret


def api_key_matches(secret: str, hashed_secret: str) -> bool:
    return hmac.compare_digest(api_key_hash(secret), hashed_secret)
