"""`system_account_for_posting`: system accounts kept per process by (client, currency, kind).

What is kept can never change: a system account is never deleted, and its id, owner, currency,
kind and `allows_negative` are fixed when it is created. Everything else (balance, held,
is_active) is deferred on the returned account and read from the database when touched."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from ledger.models import Account
from ledger.services import system_account_for_posting, system_account_get

pytestmark = pytest.mark.django_db

INVENTORY = Account.Kind.INVENTORY


def test_a_system_account_is_read_from_the_database_until_a_transaction_commits_with_it(
    client_tenant, django_capture_on_commit_callbacks
):
    # given: the account created inside a transaction that has not committed
    with django_capture_on_commit_callbacks(execute=False):
        first = system_account_for_posting(client_id=client_tenant.pk, currency_code="USD", kind=INVENTORY)
    # when / then: it is looked up again (a rollback would have taken it away)
    with CaptureQueriesContext(connection) as captured:
        again = system_account_for_posting(client_id=client_tenant.pk, currency_code="USD", kind=INVENTORY)
    assert again.pk == first.pk and len(captured) == 1


def test_a_committed_system_account_is_served_from_the_cache_with_its_fixed_fields(
    client_tenant, django_capture_on_commit_callbacks
):
    # given: one committed lookup
    with django_capture_on_commit_callbacks(execute=True):
        system_account_for_posting(client_id=client_tenant.pk, currency_code="USD", kind=INVENTORY)
    stored = system_account_get(client=client_tenant, currency="USD", kind=INVENTORY)
    # when
    with CaptureQueriesContext(connection) as captured:
        cached = system_account_for_posting(client_id=client_tenant.pk, currency_code="USD", kind=INVENTORY)
    # then: no statement, and exactly the fields fixed at creation
    assert len(captured) == 0
    assert (cached.pk, cached.client_id, cached.user_id, cached.currency_id, cached.kind, cached.allows_negative) == (
        stored.pk, client_tenant.pk, None, "USD", INVENTORY, True
    )


def test_a_cached_system_account_reads_its_balance_fresh(client_tenant, django_capture_on_commit_callbacks):
    # given: the fee revenue account cached while empty
    with django_capture_on_commit_callbacks(execute=True):
        cached = system_account_for_posting(client_id=client_tenant.pk, currency_code="USD", kind="fee_revenue")
    assert cached.get_deferred_fields() >= {"balance", "held", "is_active"}
    # when: its balance changes after it was cached
    Account.objects.filter(pk=cached.pk).update(balance=5)
    # then: a later copy reads the current balance, never a cached one
    later = system_account_for_posting(client_id=client_tenant.pk, currency_code="USD", kind="fee_revenue")
    assert later.balance == 5


def test_the_cache_holds_nothing_from_a_transaction_that_rolled_back(client_tenant):
    with transaction.atomic():
        created = system_account_for_posting(client_id=client_tenant.pk, currency_code="BTC", kind=INVENTORY)
        transaction.set_rollback(True)
    assert not Account.objects.filter(pk=created.pk).exists()
    again = system_account_for_posting(client_id=client_tenant.pk, currency_code="BTC", kind=INVENTORY)
    assert Account.objects.filter(pk=again.pk).exists()

