"""The back office's tests use the suite's fixtures (tests/fixtures.py); `tenant` here is the
client itself, as it always was in these tests."""

import pytest

from tests.fixtures import ledger_snapshot

__all__ = ["ledger_snapshot"]  # still importable from here for older tests; import it from tests.fixtures


@pytest.fixture
def tenant(client_tenant):
    return client_tenant
