"""Production: DEBUG off, every secret from the environment, no defaults for secrets."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import BASE_DIR, REST_FRAMEWORK, SIMPLE_JWT, env

DEBUG = False
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
SIMPLE_JWT["SIGNING_KEY"] = env.str("JWT_SIGNING_KEY", default="") or SECRET_KEY
API_KEY_PEPPER = env.str("API_KEY_PEPPER", default="") or SECRET_KEY

# An in-process test chain holds no real coins and vanishes with the process.
if env.str("ETHEREUM_RPC_URL", default="").startswith("eth-tester://"):
    raise ImproperlyConfigured("ETHEREUM_RPC_URL=eth-tester:// is for tests; point it at an Ethereum node.")

# TLS is terminated by the proxy in front of gunicorn; it sets X-Forwarded-Proto, and appends the
# client's address to X-Forwarded-For, which the throttles read (one trusted proxy by default).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
REST_FRAMEWORK = {**REST_FRAMEWORK, "NUM_PROXIES": env.int("NUM_PROXIES", default=1)}
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
# Load balancers probe these over plain HTTP inside the network; a redirect would fail the probe.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
# Preloading HSTS is a commitment the domain owner makes (hstspreload.org), not a code default:
# set SECURE_HSTS_PRELOAD=true once the domain qualifies. Until then `check --deploy` would warn.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]

# collectstatic writes here; whitenoise serves it (admin, browsable API, Swagger UI, dashboard).
STATIC_ROOT = env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
