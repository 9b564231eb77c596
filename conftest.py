import pytest
from django.db import connection

pytest_plugins = ["tests.fixtures"]


@pytest.fixture
def requires_postgres(db):
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL (set DATABASE_URL=postgres://...): concurrent writers with row locks, "
            "or PostgreSQL-only triggers; SQLite serialises writers and has no deferred triggers"
        )


@pytest.fixture(autouse=True)
def _per_process_caches_emptied():
    """Each test starts with empty per-process caches (API-key records, throttle counts, system
    accounts), as a fresh process would: each test's database is rolled back or flushed, which a
    deployment never does to what those caches hold, and ids are reused across tests."""
    from accounts import credentials
    from core.api import throttling
    from ledger.services import system_accounts_forget

    credentials._local.clear()
    throttling._local_buckets.clear()
    system_accounts_forget()
    yield
    system_accounts_forget()
