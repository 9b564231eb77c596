import pytest
from django.db import connection

pytest_plugins = ["tests.api_fixtures"]


@pytest.fixture
def requires_postgres(db):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL=postgres://...): SQLite has no row locks or deferred triggers")
