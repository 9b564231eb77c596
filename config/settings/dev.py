"""Local development: `make run`. DEBUG on; a fixed, clearly insecure key when none is set."""

from .base import *  # noqa: F403
from .base import SIMPLE_JWT, env

DEBUG = env.bool("DEBUG", default=True)
# An empty SECRET_KEY= (as in .env.example) also means "use the development key".
SECRET_KEY = env.str("SECRET_KEY", default="") or "dev-insecure-key-not-for-production"
SIMPLE_JWT["SIGNING_KEY"] = env.str("JWT_SIGNING_KEY", default="") or SECRET_KEY
API_KEY_PEPPER = env.str("API_KEY_PEPPER", default="") or SECRET_KEY
# `make run`: the public development mnemonic and the local chain `chain_devnode` serves.
CHAIN_HD_SEED = env.str("CHAIN_HD_SEED", default="") or "test test test test test test test test test test test junk"
ETHEREUM_RPC_URL = env.str("ETHEREUM_RPC_URL", default="") or "http://127.0.0.1:8545"
# Local receivers (http://127.0.0.1:...) for webhooks.
WEBHOOK_ALLOW_PRIVATE_URLS = env.bool("WEBHOOK_ALLOW_PRIVATE_URLS", default=True)
