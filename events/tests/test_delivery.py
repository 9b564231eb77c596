"""Webhooks for real: the database task backend, `db_worker`, a receiver on a local port, and
signatures checked with the `standardwebhooks` package, as a client would."""

import json
import time
from io import StringIO

import pytest
from django.core.management import call_command
from django_tasks_db.models import DBTaskResult
from rest_framework.test import APIClient
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from accounts.services import api_key_create
from broker.models import Order
from broker.services import OrderRequest, order_submit, rate_update
from events import delivery as delivery_module
from events.delivery import JITTER
from events.models import DeliveryAttempt, Event, WebhookDelivery, WebhookEndpoint
from events.services import webhook_delivery_retry, webhook_endpoint_create
from events.signing import secret_generate
from ledger.models import Currency, JournalEntry
from tests.factories import ClientFactory, EndUserFactory, open_account

transactional = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def run_worker(rounds: int = 4) -> None:
    # Each round runs every task that is due, including retries enqueued by the previous round.
    for _ in range(rounds):
        call_command("db_worker", batch=True, startup_delay=False, reload=False, verbosity=0)


@pytest.fixture
def immediate_retries(settings):
    settings.WEBHOOK_RETRY_SCHEDULE_SECONDS = [0, 0, 0]


def api_get(client_id: int, path: str) -> dict:
    _, key = api_key_create(client=ClientFactory._meta.model.objects.get(pk=client_id))
    response = APIClient().get(path, HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert response.status_code == 200, response.content
    return response.json()


@transactional
def test_a_deposit_and_an_order_fill_are_delivered_signed_and_verify_with_standardwebhooks(receiver):
    # Given an endpoint for transactions and fills, a rate, and a user
    user = EndUserFactory(client=ClientFactory(fee_bps=50))
    endpoint, secret = webhook_endpoint_create(
        client_id=user.client_id, url=receiver.url, event_types=["transaction.created", "order.filled"]
    )
    rate_update(currency="BTC", price_e8=60_000 * 10**8)

    # When a deposit commits and a market order fills (the worker runs the order, then the hooks)
    usd = open_account(user, "USD", deposit=1_000_000)
    open_account(user, "BTC")
    order = order_submit(request=OrderRequest(
        user=user, side="buy", currency=Currency.objects.get(code="BTC"), quantity=1_000_000,
    ))
    run_worker()

    # Then the receiver got three signed deliveries, each verifying with the endpoint's secret
    order.refresh_from_db()
    assert order.status == Order.Status.FILLED
    payloads = [Webhook(secret).verify(request.body, request.headers) for request in receiver.requests]
    assert sorted(payload["type"] for payload in payloads) == [
        "order.filled", "transaction.created", "transaction.created"
    ]
    for request, payload in zip(receiver.requests, payloads, strict=True):
        assert request.headers["webhook-id"] == payload["id"]
        assert request.headers["webhook-signature"].startswith("v1,")
        assert request.headers["content-type"] == "application/json"
        assert request.path == "/hooks"
    # and the data is exactly what the API renders for the same objects
    deposit = JournalEntry.objects.get(kind="deposit", postings__account=usd)
    by_type = {(p["type"], p["data"].get("kind")): p for p in payloads}
    assert by_type[("transaction.created", "deposit")]["data"] == api_get(
        user.client_id, f"/api/v1/transactions/{deposit.pk}/"
    )
    assert by_type[("order.filled", None)]["data"] == api_get(user.client_id, f"/api/v1/orders/{order.pk}/")
    # and a wrong secret, or a tampered body, fails verification
    first = receiver.requests[0]
    with pytest.raises(WebhookVerificationError):
        Webhook(secret_generate()).verify(first.body, first.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(first.body.replace(b"transaction", b"transactioN"), first.headers)
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"succeeded"}


@transactional
def test_an_endpoint_answering_500_twice_then_200_gets_three_attempts_with_one_webhook_id(
    receiver, immediate_retries
):
    # Given an endpoint that fails twice
    user = EndUserFactory()
    webhook_endpoint_create(client_id=user.client_id, url=receiver.url)
    receiver.statuses = [500, 500, 200]

    # When a deposit's event is delivered
    open_account(user, "USD", deposit=100)
    run_worker()

    # Then three attempts, the last one successful, all with the same webhook-id
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == (WebhookDelivery.Status.SUCCEEDED, 3)
    attempts = list(delivery.attempt_log.order_by("id"))
    assert [a.response_status for a in attempts] == [500, 500, 200]
    assert [a.is_success for a in attempts] == [False, False, True]
    assert all(len(a.response_body) == 1024 for a in attempts)  # the body is capped
    assert {r.headers["webhook-id"] for r in receiver.requests} == {delivery.event.public_id}
    assert len(receiver.requests) == 3
    # and a success clears the endpoint's run of failures
    assert WebhookEndpoint.objects.get().failing_since is None


@transactional
def test_a_delivery_that_never_succeeds_is_failed_after_the_last_retry(receiver, immediate_retries):
    user = EndUserFactory()
    webhook_endpoint_create(client_id=user.client_id, url=receiver.url)
    receiver.statuses = [503] * 10

    open_account(user, "USD", deposit=100)
    run_worker(rounds=6)

    delivery = WebhookDelivery.objects.get()
    # The first attempt and one per retry delay, then no more.
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 4, None)
    assert len(receiver.requests) == 4


def test_the_default_retry_schedule_keeps_trying_for_more_than_a_day(settings):
    schedule = settings.WEBHOOK_RETRY_SCHEDULE_SECONDS
    assert sum(schedule) * (1 - JITTER) >= 24 * 3600
    assert schedule == sorted(schedule)  # backing off, never speeding up


def test_retry_delays_grow_with_jitter_and_end(settings):
    settings.WEBHOOK_RETRY_SCHEDULE_SECONDS = [10, 100]
    first = {delivery_module.retry_delay(attempts=1).total_seconds() for _ in range(50)}
    assert all(9 <= seconds <= 11 for seconds in first) and len(first) > 1
    assert 90 <= delivery_module.retry_delay(attempts=2).total_seconds() <= 110
    assert delivery_module.retry_delay(attempts=3) is None


@transactional
def test_a_worker_killed_mid_delivery_is_delivered_again_after_restart_with_the_same_webhook_id(
    receiver, settings, monkeypatch
):
    # Given a short lease, and a worker that dies after sending, before recording the answer
    settings.WEBHOOK_DELIVERY_LEASE_SECONDS = 1
    user = EndUserFactory()
    webhook_endpoint_create(client_id=user.client_id, url=receiver.url)

    def killed(**kwargs):
        raise SystemExit("killed")

    monkeypatch.setattr(delivery_module, "_record", killed)
    open_account(user, "USD", deposit=100)
    run_worker(rounds=1)
    assert len(receiver.requests) == 1
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("pending", 0)
    assert DBTaskResult.objects.get(task_path="events.tasks.webhook_deliver_task").status == "FAILED"
    monkeypatch.undo()

    # When the worker comes back while the lease still holds, nothing is sent twice at once
    call_command("deliver_webhooks", stdout=StringIO())
    assert len(receiver.requests) == 1

    # Then once the lease has ended the sweep delivers it, with the same webhook-id
    time.sleep(1.1)
    call_command("deliver_webhooks", stdout=StringIO())
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("succeeded", 1)
    assert len(receiver.requests) == 2
    assert receiver.requests[0].headers["webhook-id"] == receiver.requests[1].headers["webhook-id"]
    assert receiver.requests[0].body == receiver.requests[1].body


@transactional
def test_a_lost_task_is_delivered_by_the_sweep(receiver):
    # Given a delivery whose task never reached the queue (a crash between commit and enqueue)
    user = EndUserFactory()
    webhook_endpoint_create(client_id=user.client_id, url=receiver.url)
    open_account(user, "USD", deposit=100)
    DBTaskResult.objects.all().delete()

    # When the sweep runs
    call_command("deliver_webhooks", stdout=StringIO())

    # Then it is delivered
    assert WebhookDelivery.objects.get().status == "succeeded"
    assert len(receiver.requests) == 1


@transactional
def test_an_endpoint_failing_for_too_long_is_disabled_and_an_event_says_so(receiver, settings):
    # Given an endpoint that always fails, a threshold of zero hours, and a second endpoint
    settings.WEBHOOK_DISABLE_AFTER_HOURS = 0
    user = EndUserFactory()
    failing, _ = webhook_endpoint_create(client_id=user.client_id, url=receiver.url + "/failing")
    watcher, watcher_secret = webhook_endpoint_create(
        client_id=user.client_id, url=receiver.url + "/watcher", event_types=["webhook_endpoint.disabled"]
    )
    receiver.statuses = [500]

    # When its delivery fails
    open_account(user, "USD", deposit=100)
    run_worker()

    # Then it is disabled, its delivery waits (not attempted again), and the watcher is told
    failing.refresh_from_db()
    assert failing.is_enabled is False and failing.disabled_at is not None
    event = Event.objects.get(type="webhook_endpoint.disabled")
    assert event.data["id"] == failing.pk and event.data["is_enabled"] is False
    assert "secret" not in json.dumps(event.data)
    assert WebhookDelivery.objects.get(endpoint=failing).attempts == 1
    told = [r for r in receiver.requests if r.path.endswith("/watcher")]
    assert len(told) == 1
    assert Webhook(watcher_secret).verify(told[0].body, told[0].headers)["type"] == "webhook_endpoint.disabled"


@transactional
def test_retrying_a_failed_delivery_sends_it_once_more(receiver, settings):
    settings.WEBHOOK_RETRY_SCHEDULE_SECONDS = []
    user = EndUserFactory()
    webhook_endpoint_create(client_id=user.client_id, url=receiver.url)
    receiver.statuses = [500]
    open_account(user, "USD", deposit=100)
    run_worker()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("failed", 1)

    webhook_delivery_retry(delivery=delivery)
    run_worker()

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("succeeded", 2)
    assert DeliveryAttempt.objects.filter(delivery=delivery).count() == 2


@transactional
def test_deliveries_go_only_to_the_owning_clients_endpoints(receiver):
    ours = EndUserFactory()
    theirs = EndUserFactory()
    webhook_endpoint_create(client_id=ours.client_id, url=receiver.url + "/ours")
    webhook_endpoint_create(client_id=theirs.client_id, url=receiver.url + "/theirs")

    open_account(ours, "USD", deposit=100)
    run_worker()

    assert [r.path for r in receiver.requests] == ["/hooks/ours"]
    assert WebhookDelivery.objects.get().endpoint.client_id == ours.client_id


@transactional
def test_workers_racing_for_one_delivery_send_it_once(receiver, requires_postgres):
    import threading

    from django.db import connection

    user = EndUserFactory()
    webhook_endpoint_create(client_id=user.client_id, url=receiver.url)
    open_account(user, "USD", deposit=100)
    delivery_id = WebhookDelivery.objects.get().pk
    barrier = threading.Barrier(4)
    errors = []

    def attempt():
        try:
            barrier.wait()
            delivery_module.delivery_attempt(delivery_id=delivery_id)
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(receiver.requests) == 1
    assert WebhookDelivery.objects.get().attempts == 1


@transactional
def test_re_enabling_an_endpoint_sends_what_waited_while_it_was_disabled(receiver):
    from events.services import webhook_endpoint_update

    user = EndUserFactory()
    endpoint, _ = webhook_endpoint_create(client_id=user.client_id, url=receiver.url)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(is_enabled=False)
    open_account(user, "USD", deposit=100)  # no delivery: the endpoint is disabled
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(is_enabled=True)
    open_account(user, "BTC", deposit=1)  # a delivery is written …
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(is_enabled=False)
    run_worker()  # … but not sent while the endpoint is disabled
    assert receiver.requests == []

    webhook_endpoint_update(endpoint=WebhookEndpoint.objects.get(pk=endpoint.pk), is_enabled=True)
    run_worker()

    assert len(receiver.requests) == 1
    assert WebhookDelivery.objects.get().status == "succeeded"


@transactional
def test_a_secret_that_cannot_be_read_is_a_failed_attempt_not_a_stuck_delivery(receiver, settings):
    user = EndUserFactory()
    webhook_endpoint_create(client_id=user.client_id, url=receiver.url)
    settings.WEBHOOK_SECRET_KEY = "another key: the stored secret no longer decrypts"

    open_account(user, "USD", deposit=100)
    run_worker(rounds=1)

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.attempt_log.get().error.startswith("InvalidToken")
    assert receiver.requests == []
