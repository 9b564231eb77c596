"""Local development: `make run`. DEBUG on; a fixed, clearly insecure key when none is set."""

from .base import *  # noqa: F403
from .base import SIMPLE_JWT, env

DEBUG = env.bool("DEBUG", default=True)
# An empty SECRET_KEY= (as in .env.example) also means "use the development key".
SECRET_KEY = env.str("SECRET_KEY", default="") or "dev-insecure-key-not-for-production"
SIMPLE_JWT["SIGNING_KEY"] = env.str("JWT_SIGNING_KEY", default="") or SECRET_KEY
API_KEY_PEPPER = env.str("API_KEY_PEPPER", default="") or SECRET_KEY
# Local receivers (http://127.0.0.1:...) for webhooks.
WEBHOOK_ALLOW_PRIVATE_URLS = env.bool("WEBHOOK_ALLOW_PRIVATE_URLS", default=True)
