"""Settings shared by every environment, read from the environment with django-environ.

Every variable is documented in `.env.example`. `dev`, `test` and `production` modules adjust these.
"""

from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "rest_framework_simplejwt.token_blacklist",
    "django_prometheus",
    "core",
    "audit",
    "events",
    "accounts",
    "ledger",
    "broker",
    "chain",
    "operations",
    # After `broker`: its `db_worker` (self-healing) replaces django_tasks_db's command of that
    # name, because the first app in this list that provides a command wins.
    "django_tasks",
    "django_tasks_db",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.middleware.RequestIdMiddleware",
    "core.middleware.UnstorableTextMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "config.urls"
CSRF_FAILURE_VIEW = "core.api.views.csrf_failure"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# The embedded default is a SQLite file in the repository; PostgreSQL by DATABASE_URL.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes SQLite's write lock at BEGIN, so two writers queue instead of failing
    # with "database is locked" when one upgrades a read lock; WAL lets readers run alongside.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    # Persistent connections (one per process, reused for CONN_MAX_AGE seconds). Health checks are
    # off by default: with them Django sends a `SELECT 1` before the first query of every request.
    # Without them a connection the server dropped fails one request (a 500, never a partial
    # write: the transaction is gone with the connection) and Django then replaces it, since it
    # closes unusable connections at the end of each request. Turn them on where connections are
    # cut often (a proxy with idle timeouts shorter than CONN_MAX_AGE).
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=False)
    # The money path's fixed statements go through core.prepared.prepared_cursor: psycopg prepares
    # each once it has run 5 times on a connection (Django's own cursors bind client-side and are
    # never prepared). Off (DATABASE_PREPARED_STATEMENTS=0) behind a pooler that cannot keep them.
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = (
        5 if env.bool("DATABASE_PREPARED_STATEMENTS", default=True) else None
    )

# Caches back throttling and must be shared by every process: the database cache table by
# default (works with nothing installed), Redis in production via CACHE_URL=redis://...
CACHES = {"default": env.cache("CACHE_URL", default="dbcache://django_cache")}

AUTH_USER_MODEL = "accounts.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiKeyAuthentication",
        "accounts.authentication.EndUserTokenAuthentication",
        "accounts.authentication.StaffJWTAuthentication",
        "accounts.authentication.StaffSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.api.permissions.CallerPermission"],
    "DEFAULT_PARSER_CLASSES": ["core.api.parsers.ExactJSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "core.api.renderers.FastJSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "core.api.negotiation.ContentNegotiation",
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.IdCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "core.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exceptions.problem_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["core.api.throttling.CallerRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"caller": env.str("API_THROTTLE_RATE", default="6000/min")},
    "UNAUTHENTICATED_USER": None,
    # Proxies in front of the app whose X-Forwarded-For is trusted for the client IP (throttles).
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    "COERCE_DECIMAL_TO_STRING": True,
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=1)),
    "SIGNING_KEY": env.str("JWT_SIGNING_KEY", default="") or SECRET_KEY,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "UPDATE_LAST_LOGIN": False,
    # A refresh answers a new refresh token and blacklists the old one: each is single-use.
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    # Token login and refresh refuse inactive people and people of an inactive client.
    "USER_AUTHENTICATION_RULE": "accounts.authentication.person_may_authenticate",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Crypto brokerage and ledger API",
    "DESCRIPTION": "Multi-tenant ledger, money movements and brokerage for fintech clients.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a `kind`; name each choice set after its model.
    "ENUM_NAME_OVERRIDES": {
        "CurrencyKindEnum": "ledger.models.Currency.Kind",
        "JournalEntryKindEnum": "ledger.models.JournalEntry.Kind",
        "PendingWithdrawalStatusEnum": "operations.models.PendingWithdrawal.Status",
        "ChainDepositStatusEnum": "chain.models.ChainDeposit.Status",
        "CryptoWithdrawalStatusEnum": "chain.models.CryptoWithdrawal.Status",
        "EventTypeEnum": "events.models.Event.Type",
        "OrderTypeEnum": "broker.models.Order.Type",
    },
}

TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default"],
    }
}

# The order worker (`manage.py db_worker`): tasks RUNNING longer than WORKER_ORPHAN_SECONDS are
# taken as a dead worker's and re-queued, checked every WORKER_RECOVERY_SECONDS; a database outage
# is retried with backoff from WORKER_RETRY_MIN_MS up to WORKER_RETRY_MAX_MS (milliseconds).
# An idle worker polls the queue every WORKER_POLL_INTERVAL_MS: what an order accepted into an
# empty queue may wait before a worker picks it up (submit→fill latency), for one short locking
# SELECT per poll and worker.
WORKER_POLL_INTERVAL_MS = env.int("WORKER_POLL_INTERVAL_MS", default=50)
WORKER_ORPHAN_SECONDS = env.int("WORKER_ORPHAN_SECONDS", default=30)
WORKER_RECOVERY_SECONDS = env.int("WORKER_RECOVERY_SECONDS", default=15)
WORKER_RETRY_MIN_MS = env.int("WORKER_RETRY_MIN_MS", default=500)
WORKER_RETRY_MAX_MS = env.int("WORKER_RETRY_MAX_MS", default=30_000)
# Called by the worker with its recovery (every WORKER_RECOVERY_SECONDS): clean-ups that must
# never run on a request or inside a money movement.
WORKER_HOUSEKEEPING = [
    "core.api.idempotency.idempotency_purge",
    "operations.compliance.movement_counts_purge",
    "events.services.events_purge",
]

# Platform rules (documented in .env.example).
API_KEY_PEPPER = env.str("API_KEY_PEPPER", default="") or SECRET_KEY
END_USER_TOKEN_MINUTES = env.int("END_USER_TOKEN_MINUTES", default=15)
# How long an API key → client resolution, or a client's active flag, may be served from the
# shared cache: the bound on how long a revoked key or a deactivated client still authenticates
# in another process (the services that change them clear the entries at once).
AUTH_CACHE_SECONDS = env.int("AUTH_CACHE_SECONDS", default=5)
# Failed authentications per client IP before 429 (`count/s|min|hour|day`).
AUTH_FAILURE_RATE = env.str("AUTH_FAILURE_RATE", default="60/min")
IDEMPOTENCY_TTL_HOURS = env.int("IDEMPOTENCY_TTL_HOURS", default=24)
# How long a retry waits for the first request with its Idempotency-Key before 409 in progress.
IDEMPOTENCY_WAIT_MS = env.int("IDEMPOTENCY_WAIT_MS", default=1000)
DEFAULT_FEE_BPS = env.int("DEFAULT_FEE_BPS", default=50)
QUOTE_TTL_SECONDS = env.int("QUOTE_TTL_SECONDS", default=30)
MARKET_ORDER_SLIPPAGE_BPS = env.int("MARKET_ORDER_SLIPPAGE_BPS", default=200)
METRICS_PUBLIC = env.bool("METRICS_PUBLIC", default=False)
# Bearer token a Prometheus scraper sends when metrics are not public (empty: staff session only).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Callables run inside the posting transaction of every journal entry (dotted paths). The ledger
# stays ignorant of who listens; compliance review plugs in here.
LEDGER_ENTRY_OBSERVERS = env.list(
    "LEDGER_ENTRY_OBSERVERS", default=["operations.compliance.compliance_observe_entry"]
)

# Most transfers one POST /transfers/batch/ may carry.
TRANSFER_BATCH_MAX_ITEMS = env.int("TRANSFER_BATCH_MAX_ITEMS", default=1000)

# How long each process keeps the active compliance rules before reading them again: a rule
# change applies within this many seconds (0: read on every journal entry).
COMPLIANCE_RULES_CACHE_SECONDS = env.int("COMPLIANCE_RULES_CACHE_SECONDS", default=5)

# Withdrawals worth more than this (settlement-currency minor units, i.e. cents) are held for a
# Compliance decision instead of leaving at once. 0 turns the review off.
WITHDRAWAL_REVIEW_THRESHOLD_USD = env.int("WITHDRAWAL_REVIEW_THRESHOLD_USD", default=0)

# The timezone whose midnight ends a day for `ledger_snapshot` (an IANA name, e.g. Europe/Paris).
LEDGER_SNAPSHOT_TIMEZONE = env.str("LEDGER_SNAPSHOT_TIMEZONE", default="UTC")
# Crypto rails (chain app). The BIP-39 mnemonic every custody address is derived from: from the
# environment or a secret store only, never the database or a log. Empty: nothing can be derived.
CHAIN_HD_SEED = env.str("CHAIN_HD_SEED", default="")
# An Ethereum node's JSON-RPC URL (http(s)://…), or eth-tester:// for an in-process chain (tests).
ETHEREUM_RPC_URL = env.str("ETHEREUM_RPC_URL", default="")
# Events and webhooks (events app).
EVENT_RETENTION_DAYS = env.int("EVENT_RETENTION_DAYS", default=30)
# Private, loopback and link-local webhook URLs (and plain http://) are refused unless this is on;
# on in development and tests only.
WEBHOOK_ALLOW_PRIVATE_URLS = env.bool("WEBHOOK_ALLOW_PRIVATE_URLS", default=False)
# Seconds to wait after each failed attempt; after the last, the delivery is failed. The default
# (≈ 27.6 h, ±10 % jitter) keeps retrying for more than a day.
WEBHOOK_RETRY_SCHEDULE_SECONDS = [
    int(seconds)
    for seconds in env.list("WEBHOOK_RETRY_SCHEDULE_SECONDS", default=["5", "300", "1800", "7200", "18000",
                                                                          "36000", "36000"])
]
# An endpoint failing without a single success for this long is disabled (and an event says so).
WEBHOOK_DISABLE_AFTER_HOURS = env.int("WEBHOOK_DISABLE_AFTER_HOURS", default=120)
# How long a worker holds a delivery it is sending; a killed worker's delivery is due again after it.
WEBHOOK_DELIVERY_LEASE_SECONDS = env.int("WEBHOOK_DELIVERY_LEASE_SECONDS", default=60)
# Encrypts webhook signing secrets at rest; derived from SECRET_KEY when empty.
WEBHOOK_SECRET_KEY = env.str("WEBHOOK_SECRET_KEY", default="")

# The currency trades settle in; every user is authorized for it.
SETTLEMENT_CURRENCY = "USD"

from config.logging import LOGGING  # noqa: E402, F401
