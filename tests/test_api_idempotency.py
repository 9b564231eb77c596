import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from core.models import IdempotencyRecord
from ledger.models import JournalEntry
from ledger.services import deposit_create
from tests.fixtures import end_user_auth, ledger_snapshot, make_tenant


def deposit(api, tenant, key, amount="1.00"):
    return api.post(
        "/api/v1/deposits/", {"account": tenant.usd.pk, "amount": amount}, format="json",
        HTTP_IDEMPOTENCY_KEY=key, **tenant.auth,
    )


@pytest.mark.django_db
def test_retry_with_the_same_key_and_body_replays_without_a_second_effect(api, tenant):
    # given
    first = deposit(api, tenant, "key-1")
    after_first = ledger_snapshot()
    # when
    retry = deposit(api, tenant, "key-1")
    # then
    assert first.status_code == retry.status_code == 201
    assert retry.content == first.content
    assert retry["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert ledger_snapshot() == after_first


@pytest.mark.django_db
def test_same_key_with_another_body_is_422_and_changes_nothing(api, tenant):
    deposit(api, tenant, "key-1")
    before = ledger_snapshot()
    response = deposit(api, tenant, "key-1", amount="2.00")
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert ledger_snapshot() == before


@pytest.mark.django_db
def test_a_rule_rejection_is_stored_and_replayed_even_once_it_would_succeed(api, tenant):
    # given: a withdrawal refused for insufficient funds
    body = {"account": tenant.usd.pk, "amount": "150.00"}
    first = api.post("/api/v1/withdrawals/", body, format="json", HTTP_IDEMPOTENCY_KEY="w-1", **tenant.auth)
    deposit_create(account=tenant.usd, amount=100_00)  # now it would succeed
    before = ledger_snapshot()
    # when
    retry = api.post("/api/v1/withdrawals/", body, format="json", HTTP_IDEMPOTENCY_KEY="w-1", **tenant.auth)
    # then: the first answer stands
    assert first.status_code == retry.status_code == 422
    assert retry.json()["code"] == "insufficient_funds"
    assert retry["Content-Type"] == "application/problem+json"
    assert retry["Idempotent-Replayed"] == "true"
    assert ledger_snapshot() == before


@pytest.mark.django_db
def test_malformed_input_is_not_stored_so_a_corrected_retry_runs(api, tenant):
    bad = deposit(api, tenant, "key-1", amount="-1")
    good = deposit(api, tenant, "key-1", amount="1")
    assert (bad.status_code, good.status_code) == (400, 201)
    assert "Idempotent-Replayed" not in good


@pytest.mark.django_db
def test_keys_are_scoped_per_client_and_per_end_user(api, tenant, other_tenant):
    deposit(api, tenant, "shared")
    other = deposit(api, other_tenant, "shared")
    transfer = api.post(
        "/api/v1/transfers/", {"from_account": tenant.usd.pk, "to_account": tenant.peer_usd.pk, "amount": "1"},
        format="json", HTTP_IDEMPOTENCY_KEY="shared", **end_user_auth(tenant.user),
    )
    assert other.status_code == 201 and "Idempotent-Replayed" not in other
    assert transfer.status_code == 201 and "Idempotent-Replayed" not in transfer


@pytest.mark.django_db
def test_an_expired_record_is_replaced_and_purge_removes_old_ones(api, tenant):
    deposit(api, tenant, "old")
    IdempotencyRecord.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    entries = JournalEntry.objects.count()
    again = deposit(api, tenant, "old")
    assert again.status_code == 201 and "Idempotent-Replayed" not in again
    assert JournalEntry.objects.count() == entries + 1
    IdempotencyRecord.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    call_command("purge_idempotency")
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.django_db
def test_an_unprintable_key_is_400(api, tenant):
    before = ledger_snapshot()
    assert deposit(api, tenant, "x" * 256).status_code == 400
    assert ledger_snapshot() == before


def _slow_deposits(monkeypatch):
    """Deposits that signal when they are running and wait until released."""
    started, release = threading.Event(), threading.Event()

    def slow_deposit_create(**kwargs):
        started.set()
        assert release.wait(10)
        return deposit_create(**kwargs)

    monkeypatch.setattr("ledger.api.views.deposit_create", slow_deposit_create)
    return started, release


def _in_thread(target, results, name):
    def run():
        try:
            results[name] = target()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_retry_while_the_first_is_running_is_409_and_only_one_effect(requires_postgres, monkeypatch, settings):
    # given: the first request holds its claim inside a slow deposit
    settings.IDEMPOTENCY_WAIT_MS = 200
    tenant = make_tenant()
    entries = JournalEntry.objects.count()
    started, release = _slow_deposits(monkeypatch)
    results = {}
    first = _in_thread(lambda: deposit(APIClient(), tenant, "race"), results, "first")
    assert started.wait(10)
    # when: a retry arrives while it runs
    second = _in_thread(lambda: deposit(APIClient(), tenant, "race"), results, "second")
    second.join(10)
    release.set()
    first.join(10)
    # then
    assert results["second"].status_code == 409
    assert results["second"].json()["code"] == "idempotency_in_progress"
    assert results["first"].status_code == 201
    replay = deposit(APIClient(), tenant, "race")
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert replay.content == results["first"].content
    assert JournalEntry.objects.count() == entries + 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_retry_waiting_on_a_first_that_commits_replays_it(requires_postgres, monkeypatch, settings):
    # given
    settings.IDEMPOTENCY_WAIT_MS = 10_000
    tenant = make_tenant()
    entries = JournalEntry.objects.count()
    started, release = _slow_deposits(monkeypatch)
    results = {}
    first = _in_thread(lambda: deposit(APIClient(), tenant, "race"), results, "first")
    assert started.wait(10)
    # when: the retry blocks on the claim, then the first commits
    second = _in_thread(lambda: deposit(APIClient(), tenant, "race"), results, "second")
    second.join(0.5)
    assert second.is_alive()  # waiting on the first's uncommitted claim
    release.set()
    first.join(10)
    second.join(10)
    # then
    assert results["first"].status_code == results["second"].status_code == 201
    assert results["second"]["Idempotent-Replayed"] == "true"
    assert results["second"].content == results["first"].content
    assert JournalEntry.objects.count() == entries + 1
