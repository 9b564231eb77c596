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
def _per_process_caches_forgotten():
    """Each test's database is rolled back or flushed, which a deployment never does to what the
    per-process caches hold (system accounts): start every test with them empty."""
    from ledger.services import system_accounts_forget

    system_accounts_forget()
    yield
    system_accounts_forget()
