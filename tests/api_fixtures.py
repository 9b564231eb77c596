"""Kept so `from tests.api_fixtures import …` still works: everything lives in tests/fixtures.py."""

from tests.fixtures import Tenant, end_user_auth, ledger_snapshot, make_tenant

__all__ = ["Tenant", "end_user_auth", "ledger_snapshot", "make_tenant"]
