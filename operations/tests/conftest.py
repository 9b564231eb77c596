"""The back office's tests use the suite's fixtures (tests/fixtures.py); `tenant` here is the
client itself, as it always was in these tests."""

import pytest


@pytest.fixture
def tenant(client_tenant):
    return client_tenant
