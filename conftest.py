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
