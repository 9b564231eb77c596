"""Test settings: same database choice as the environment (SQLite unless DATABASE_URL is set)."""

from .base import *  # noqa: F403
from .base import REST_FRAMEWORK, SIMPLE_JWT

DEBUG = False
SECRET_KEY = "test-secret-key-long-enough-for-hmac-sha256"  # noqa: S105 - test-only
SIMPLE_JWT["SIGNING_KEY"] = SECRET_KEY
API_KEY_PEPPER = "test-pepper"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"caller": "100000/min"}}
# Tests create and switch rules and expect the next entry to see them.
COMPLIANCE_RULES_CACHE_SECONDS = 0
# The well-known development mnemonic (public: never holds real coins) and the in-process chain.
CHAIN_HD_SEED = "test test test test test test test test test test test junk"
ETHEREUM_RPC_URL = "eth-tester://"
# Tests run webhook receivers on 127.0.0.1; the refusals are tested with this turned off.
WEBHOOK_ALLOW_PRIVATE_URLS = True
