"""Production settings: `check --deploy` passes, and static files are served with DEBUG off."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]


def production_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY=secrets.token_urlsafe(50),
        **extra,
    )
    return env


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - fixed arguments, our own interpreter
        [sys.executable, *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_passes_with_production_settings():
    # Deliberate exception, documented in README: HSTS preload (silenced until the domain qualifies).
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    env = production_env()
    env["SECRET_KEY"] = ""
    result = run(["manage.py", "check"], env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_static_files_are_served_by_whitenoise_with_debug_off(tmp_path):
    env = production_env(STATIC_ROOT=str(tmp_path / "static"), DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    collected = run(["manage.py", "collectstatic", "--noinput"], env)
    assert collected.returncode == 0, collected.stderr
    script = (
        "import django; django.setup()\n"
        "from django.test import Client\n"
        "from django.contrib.staticfiles.storage import staticfiles_storage as s\n"
        "c = Client()\n"
        "for name in ['admin/css/base.css', 'rest_framework/css/bootstrap.min.css',\n"
        "             'drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js']:\n"
        "    r = c.get(s.url(name), secure=True)\n"
        "    print(name, r.status_code)\n"
        "    assert r.status_code == 200, name\n"
    )
    served = run(["-c", script], env)
    assert served.returncode == 0, served.stdout + served.stderr
