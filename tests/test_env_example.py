"""`.env.example` documents every variable; copied to `.env` as is, it must load and mean what
it says (django-environ keeps inline comments as part of a value, so comments stand on their own
lines)."""

import json
import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]

SCRIPT = """
import json, environ, django
environ.Env.read_env({path!r}, overwrite=True)
django.setup()
from django.conf import settings
print(json.dumps({{
    "debug": settings.DEBUG,
    "secret_key_set": bool(settings.SECRET_KEY.strip()),
    "fee_bps": settings.DEFAULT_FEE_BPS,
    "token_minutes": settings.END_USER_TOKEN_MINUTES,
    "throttle": settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["caller"],
    "observers": settings.LEDGER_ENTRY_OBSERVERS,
    "metrics_public": settings.METRICS_PUBLIC,
    "cache": settings.CACHES["default"]["LOCATION"],
}}))
"""


def test_env_example_loads_as_documented():
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "DATABASE_URL"))}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.dev"
    result = subprocess.run(  # noqa: S603 - our own interpreter, fixed script
        [sys.executable, "-c", SCRIPT.format(path=str(BASE_DIR / ".env.example"))],
        cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded == {
        "debug": True,
        "secret_key_set": True,  # the empty SECRET_KEY= falls back to the development key
        "fee_bps": 50,
        "token_minutes": 15,
        "throttle": "6000/min",
        "observers": ["operations.compliance.compliance_observe_entry"],  # compliance stays on
        "metrics_public": False,
        "cache": "django_cache",
    }
