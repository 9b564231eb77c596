"""Webhook signing secrets: Standard Webhooks format (`whsec_` + base64 of 24 random bytes),
kept encrypted at rest because signing needs the secret back.

Encryption is Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) under a key derived from
WEBHOOK_SECRET_KEY, or SECRET_KEY when that is empty. Rotating that key makes every stored
secret unreadable: rotate the endpoints' secrets afterwards.
"""

import base64
import hashlib
import secrets as random

from cryptography.fernet import Fernet
from django.conf import settings

SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks prefix, not a secret
SECRET_BYTES = 24


def secret_generate() -> str:
    return SECRET_PREFIX + base64.b64encode(random.token_bytes(SECRET_BYTES)).decode()


def secret_encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def secret_decrypt(encrypted: str) -> str:
    return _fernet().decrypt(encrypted.encode()).decode()


def _fernet() -> Fernet:
    material = settings.WEBHOOK_SECRET_KEY or settings.SECRET_KEY
    if not material:
        raise RuntimeError("WEBHOOK_SECRET_KEY or SECRET_KEY must be set to keep webhook secrets.")
    # A key of its own, derived so that it differs from every other use of SECRET_KEY.
    key = hashlib.sha256(b"events.webhook-secrets:" + material.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))
