"""The environment the benchmarks serve the API with: production settings, DEBUG off, a key only
a benchmark uses, no HTTPS redirect (plain HTTP on 127.0.0.1)."""

import os


def production_env(**overrides: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DEBUG": "0",
        "SECRET_KEY": "bench-only-secret-key-not-for-production-use-0123456789",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        **overrides,
    }
