"""`atomic_whole` and `atomic_service`: services skip their savepoint only where every refusal
ends the transaction, keep it everywhere else, and code that would carry on after a refusal
without a savepoint of its own fails loudly instead of running on a half-applied change."""

import contextlib

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from core.transactions import atomic_service, atomic_whole, in_whole_transaction
from ledger.errors import InsufficientFundsError
from ledger.services import transfer_create
from tests.fixtures import balance, ledger_snapshot

pytestmark = pytest.mark.django_db


def _savepoints(captured) -> int:
    return sum(query["sql"].startswith("SAVEPOINT") for query in captured.captured_queries)


def test_a_movement_in_a_callers_transaction_keeps_its_savepoint(alice_usd, bob_usd):
    with transaction.atomic(), CaptureQueriesContext(connection) as captured:
        assert not in_whole_transaction()
        transfer_create(from_account=alice_usd, to_account=bob_usd, amount=1_00)
    assert _savepoints(captured) == 1


def test_a_movement_in_a_whole_transaction_opens_no_savepoint(alice_usd, bob_usd):
    with atomic_whole(), CaptureQueriesContext(connection) as captured:
        assert in_whole_transaction()
        transfer_create(from_account=alice_usd, to_account=bob_usd, amount=1_00)
    assert _savepoints(captured) == 0
    assert balance(bob_usd) == (251_00, 0)


def test_a_savepoint_opened_inside_a_whole_transaction_keeps_services_savepoints(alice_usd, bob_usd):
    with atomic_whole():
        with transaction.atomic(), CaptureQueriesContext(connection) as captured:
            assert not in_whole_transaction()
            transfer_create(from_account=alice_usd, to_account=bob_usd, amount=1_00)
        with atomic_service(), CaptureQueriesContext(connection) as nested:
            assert in_whole_transaction()  # a service's own block inside adds no savepoint
    assert _savepoints(captured) == 1  # the one opened explicitly
    assert _savepoints(nested) == 0


def test_a_refusal_in_a_whole_transaction_rolls_it_back_whole(alice_usd, bob_usd):
    before = ledger_snapshot()
    with pytest.raises(InsufficientFundsError), atomic_whole():
        transfer_create(from_account=alice_usd, to_account=bob_usd, amount=1_00)  # applied, then undone
        transfer_create(from_account=alice_usd, to_account=bob_usd, amount=10**9)
    assert ledger_snapshot() == before


def test_carrying_on_after_a_refusal_without_a_savepoint_fails_loudly(alice_usd, bob_usd):
    before = ledger_snapshot()
    with pytest.raises(transaction.TransactionManagementError), atomic_whole():
        transfer_create(from_account=alice_usd, to_account=bob_usd, amount=1_00)
        with contextlib.suppress(InsufficientFundsError):  # wrong inside a whole transaction
            transfer_create(from_account=alice_usd, to_account=bob_usd, amount=10**9)
        transfer_create(from_account=alice_usd, to_account=bob_usd, amount=1_00)
    assert ledger_snapshot() == before


def test_carrying_on_after_a_refusal_in_a_savepoint_of_ones_own_works(alice_usd, bob_usd):
    with atomic_whole():
        transfer_create(from_account=alice_usd, to_account=bob_usd, amount=1_00)
        with pytest.raises(InsufficientFundsError), transaction.atomic():
            transfer_create(from_account=alice_usd, to_account=bob_usd, amount=10**9)
        transfer_create(from_account=alice_usd, to_account=bob_usd, amount=1_00)
    assert balance(bob_usd) == (252_00, 0)
