"""Kept so existing imports work: the helpers live in tests/fixtures.py (one for the suite)."""

from tests.fixtures import balance, ledger_snapshot, rejected_with

balance_and_held = balance
ledger_state = ledger_snapshot

__all__ = ["balance_and_held", "ledger_state", "rejected_with"]
