"""The outbox: an event exists if and only if its change committed, written by the service that
made the change, with the object as the API renders it."""

import pytest
from django.db import transaction
from rest_framework.test import APIClient

from accounts.services import api_key_create, user_deactivate, user_freeze, user_unfreeze
from broker.models import Order
from broker.services import (
    OrderRequest,
    conversion_create,
    order_cancel,
    order_execute,
    order_submit,
    quote_create,
    rate_update,
)
from events.models import Event, WebhookDelivery
from events.services import event_record, event_record_many, webhook_endpoint_create
from ledger.errors import InsufficientFundsError
from ledger.models import Currency, JournalEntry
from ledger.services import adjustment_create, deposit_create, transfer_create, transfer_reverse, withdrawal_create
from operations.models import PendingWithdrawal
from operations.services import withdrawal_approve, withdrawal_reject, withdrawal_request
from tests.factories import ClientFactory, EndUserFactory, open_account
from tests.fixtures import ledger_snapshot, staff_with_role

pytestmark = pytest.mark.django_db


class Boom(Exception):
    pass


@pytest.fixture
def alice():
    return EndUserFactory(client=ClientFactory(fee_bps=50))


@pytest.fixture
def alice_usd(alice):
    return open_account(alice, "USD", deposit=100_000)


@pytest.fixture
def bob_usd(alice):
    return open_account(EndUserFactory(client=alice.client), "USD")


@pytest.fixture
def btc():
    rate_update(currency="BTC", price_e8=60_000 * 10**8)
    return Currency.objects.get(code="BTC")


def events_of(type_: str) -> list[Event]:
    return list(Event.objects.filter(type=type_).order_by("id"))


def api_auth(client) -> dict:
    _, key = api_key_create(client=client)
    return {"HTTP_AUTHORIZATION": f"Api-Key {key}"}


def test_a_committed_deposit_has_exactly_one_event_with_the_transaction_as_the_api_renders_it(alice, alice_usd):
    # given
    entry = JournalEntry.objects.get(kind="deposit")
    # then
    [event] = events_of("transaction.created")
    assert event.client_id == alice.client_id
    assert event.public_id.startswith("evt_")
    response = APIClient().get(f"/api/v1/transactions/{entry.pk}/", **api_auth(alice.client))
    assert event.data == response.json()
    assert event.data["kind"] == "deposit" and event.data["amount"] == "1000.00"


def test_every_journal_entry_kind_has_one_transaction_created_event(alice, alice_usd, bob_usd, btc):
    # when: every kind of movement
    transfer = transfer_create(from_account=alice_usd, to_account=bob_usd, amount=1_00)
    transfer_reverse(entry=transfer)
    withdrawal_create(account=alice_usd, amount=1_00)
    adjustment_create(account=alice_usd, amount=5, reason="correction", actor=staff_with_role("Operations"))
    open_account(alice, "BTC")
    order = order_submit(request=OrderRequest(user=alice, side="buy", currency=btc, quantity=10_000))
    order_execute(order_id=order.pk)
    conversion_create(user=alice, from_currency=Currency.objects.get(code="USD"), to_currency=btc, amount=10_00)
    # then: one event per entry, in the order they were written
    entries = list(JournalEntry.objects.order_by("id"))
    events = events_of("transaction.created")
    assert [event.data["id"] for event in events] == [entry.pk for entry in entries]
    assert {entry.kind for entry in entries} == {
        "deposit", "transfer", "reversal", "withdrawal", "adjustment", "trade", "conversion"
    }
    # and each carries the entry exactly as the API renders it (rendered from its legs, in memory)
    auth = api_auth(alice.client)
    for event in events:
        rendered = APIClient().get(f"/api/v1/transactions/{event.data['id']}/", **auth).json()
        rendered["reversed_by"] = None  # the transfer was reversed after its event
        assert event.data == rendered


def test_a_movement_refused_for_insufficient_funds_leaves_no_event(alice_usd, bob_usd):
    # given
    before, events_before = ledger_snapshot(), Event.objects.count()
    # when
    with pytest.raises(InsufficientFundsError):
        transfer_create(from_account=alice_usd, to_account=bob_usd, amount=10**9)
    # then
    assert ledger_snapshot() == before
    assert Event.objects.count() == events_before


def test_an_error_after_the_entry_rolls_its_event_back_with_it(alice, alice_usd):
    # given: an endpoint, so the deliveries roll back too
    webhook_endpoint_create(client_id=alice.client_id, url="http://127.0.0.1:9/")
    before, events_before = ledger_snapshot(), Event.objects.count()
    # when: the entry is written, then the surrounding transaction fails
    with pytest.raises(Boom), transaction.atomic():
        deposit_create(account=alice_usd, amount=1_00)
        assert Event.objects.count() == events_before + 1
        raise Boom()
    # then
    assert ledger_snapshot() == before
    assert Event.objects.count() == events_before
    assert WebhookDelivery.objects.count() == 0


def test_an_idempotent_replay_creates_no_event(api, alice, alice_usd):
    # given
    auth = api_auth(alice.client)
    body = {"account": alice_usd.pk, "amount": "1.00"}
    first = api.post("/api/v1/deposits/", body, format="json", HTTP_IDEMPOTENCY_KEY="dep-1", **auth)
    assert first.status_code == 201
    events_after_first = Event.objects.count()
    # when
    replay = api.post("/api/v1/deposits/", body, format="json", HTTP_IDEMPOTENCY_KEY="dep-1", **auth)
    # then
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert Event.objects.count() == events_after_first
    assert events_of("transaction.created")[-1].data == first.json()


def test_orders_record_accepted_opened_filled_and_cancelled(alice, alice_usd, btc):
    open_account(alice, "BTC")
    # a market order: accepted, then filled
    market = order_submit(request=OrderRequest(user=alice, side="buy", currency=btc, quantity=10_000))
    order_execute(order_id=market.pk)
    # a limit order below the market: accepted, opened, then cancelled
    limit = order_submit(request=OrderRequest(user=alice, side="buy", type="limit", currency=btc, quantity=10_000,
                                              limit_price_e8=50_000 * 10**8))
    order_execute(order_id=limit.pk)
    order_cancel(order=limit)

    assert [(e.type, e.data["id"], e.data["status"]) for e in Event.objects.filter(type__startswith="order.")] == [
        ("order.accepted", market.pk, "submitted"),
        ("order.filled", market.pk, "filled"),
        ("order.accepted", limit.pk, "submitted"),
        ("order.opened", limit.pk, "open"),
        ("order.cancelled", limit.pk, "cancelled"),
    ]
    filled = events_of("order.filled")[0]
    assert filled.data["transaction"] == Order.objects.get(pk=market.pk).entry_id


def test_orders_record_expired_and_rejected(alice, alice_usd, btc):
    open_account(alice, "BTC")
    ioc = order_submit(request=OrderRequest(
        user=alice, side="buy", type="limit", time_in_force="ioc", currency=btc, quantity=10_000,
        limit_price_e8=50_000 * 10**8,
    ))
    order_execute(order_id=ioc.pk)
    market = order_submit(request=OrderRequest(user=alice, side="buy", currency=btc, quantity=10_000))
    user_freeze(user=alice, actor=staff_with_role("Compliance"))
    order_execute(order_id=market.pk)

    assert [(e.type, e.data["id"]) for e in Event.objects.filter(type__in=["order.expired", "order.rejected"])] == [
        ("order.expired", ioc.pk), ("order.rejected", market.pk)
    ]
    assert events_of("order.rejected")[0].data["reject_reason"] == "user_frozen"


def test_quotes_and_conversions_record_their_creation(alice, alice_usd, btc):
    open_account(alice, "BTC")
    quote = quote_create(user=alice, side="buy", currency=btc, quantity=10_000)
    conversion = conversion_create(
        user=alice, from_currency=Currency.objects.get(code="USD"), to_currency=btc, amount=10_00
    )
    assert events_of("quote.created")[0].data["id"] == quote.pk
    assert events_of("quote.created")[0].data["total"] == "6.03"
    assert events_of("conversion.created")[0].data["id"] == conversion.pk
    assert events_of("conversion.created")[0].data["transaction"] == conversion.entry_id


def test_freezes_and_deactivation_record_once_each(alice):
    compliance = staff_with_role("Compliance")
    user_freeze(user=alice, actor=compliance)
    user_freeze(user=alice, actor=compliance)  # already frozen: no change, no event
    user_unfreeze(user=alice, actor=compliance)
    user_deactivate(user=alice)
    user_deactivate(user=alice)
    assert [e.type for e in Event.objects.filter(type__startswith="user.")] == [
        "user.frozen", "user.unfrozen", "user.deactivated"
    ]
    assert events_of("user.deactivated")[0].data["is_active"] is False


def test_held_withdrawals_record_pending_review_then_their_decision(settings, alice, alice_usd):
    settings.WITHDRAWAL_REVIEW_THRESHOLD_USD = 1
    compliance = staff_with_role("Compliance")
    approved = withdrawal_request(account=alice_usd, amount=10_00)
    rejected = withdrawal_request(account=alice_usd, amount=20_00)
    withdrawal_approve(pending=approved, actor=compliance)
    withdrawal_reject(pending=rejected, actor=compliance, reason="kept internal")

    types = [(e.type, e.data["id"]) for e in Event.objects.filter(type__startswith="withdrawal.")]
    assert types == [
        ("withdrawal.pending_review", approved.pk),
        ("withdrawal.pending_review", rejected.pk),
        ("withdrawal.approved", approved.pk),
        ("withdrawal.rejected", rejected.pk),
    ]
    assert events_of("withdrawal.approved")[0].data["transaction"] == (
        PendingWithdrawal.objects.get(pk=approved.pk).entry_id
    )
    assert "kept internal" not in str(events_of("withdrawal.rejected")[0].data)


def test_events_fan_out_only_to_enabled_endpoints_that_want_the_type(alice, alice_usd):
    everything, _ = webhook_endpoint_create(client_id=alice.client_id, url="http://127.0.0.1:9/all")
    orders_only, _ = webhook_endpoint_create(
        client_id=alice.client_id, url="http://127.0.0.1:9/orders", event_types=["order.filled"]
    )
    disabled, _ = webhook_endpoint_create(client_id=alice.client_id, url="http://127.0.0.1:9/off")
    disabled.is_enabled = False
    disabled.save()

    deposit_create(account=alice_usd, amount=1_00)

    assert list(WebhookDelivery.objects.values_list("endpoint_id", flat=True)) == [everything.pk]


def test_an_unknown_event_type_is_a_programming_error(alice):
    with pytest.raises(ValueError):
        event_record(type="user.teleported", obj=alice)


def test_an_event_costs_a_movement_one_statement_on_postgresql_and_three_through_the_orm(alice_usd, bob_usd):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def statements(**kwargs) -> list[str]:
        with CaptureQueriesContext(connection) as captured:
            transfer_create(from_account=alice_usd, to_account=bob_usd, amount=1, **kwargs)
        return [query["sql"] for query in captured.captured_queries]

    def event_statements(sql_list: list[str]) -> int:
        return sum("events_" in sql for sql in sql_list)

    # PostgreSQL: the event and its deliveries in one data-modifying statement; through the ORM
    # (SQLite), the event row and the client's endpoints, and a delivery row per endpoint.
    on_postgresql = connection.vendor == "postgresql"
    without = statements()
    assert event_statements(without) == (1 if on_postgresql else 2)
    assert not any(sql.startswith('SELECT "ledger_posting"') for sql in without)
    assert sum("SAVEPOINT" in sql for sql in without) == 2  # the movement's own, none for the event
    webhook_endpoint_create(client_id=alice_usd.client_id, url="http://127.0.0.1:9/")
    with_endpoint = statements()
    assert event_statements(with_endpoint) == (1 if on_postgresql else 3)


def test_many_events_at_once_are_written_exactly_as_one_by_one(alice, alice_usd, bob_usd):
    # given: endpoints that want everything, transactions only, orders only, one disabled, and
    # another client's; entries of both clients
    everything, _ = webhook_endpoint_create(client_id=alice.client_id, url="http://127.0.0.1:9/all")
    webhook_endpoint_create(client_id=alice.client_id, url="http://127.0.0.1:9/tx", event_types=["transaction.created"])
    webhook_endpoint_create(client_id=alice.client_id, url="http://127.0.0.1:9/orders", event_types=["order.filled"])
    disabled, _ = webhook_endpoint_create(client_id=alice.client_id, url="http://127.0.0.1:9/off")
    disabled.is_enabled = False
    disabled.save()
    other = EndUserFactory()
    other_usd = open_account(other, "USD", deposit=1_00)
    webhook_endpoint_create(client_id=other.client_id, url="http://127.0.0.1:9/other")
    entries = [
        transfer_create(from_account=alice_usd, to_account=bob_usd, amount=1),
        transfer_create(from_account=bob_usd, to_account=alice_usd, amount=1),
        deposit_create(account=other_usd, amount=2),
    ]

    def written(record) -> list[tuple]:
        last = Event.objects.order_by("-id").values_list("id", flat=True).first()
        record()
        events = list(Event.objects.filter(id__gt=last).order_by("id"))
        return [
            (event.type, event.client_id, event.data, list(
                WebhookDelivery.objects.filter(event=event).order_by("id")
                .values_list("endpoint_id", "status", "attempts", "next_attempt_at")
            ))
            for event in events
        ]

    def one_by_one():
        for entry in entries:
            event_record(type="transaction.created", obj=entry)

    # when
    singles = written(one_by_one)
    many = written(lambda: event_record_many(type="transaction.created", objs=entries))
    # then: the same events and deliveries, in the same order (each delivery due when its event
    # was written)

    def comparable(rows):
        return [(type_, client_id, data, [delivery[:3] for delivery in deliveries])
                for type_, client_id, data, deliveries in rows]

    assert comparable(many) == comparable(singles)
    assert [len(deliveries) for *_, deliveries in many] == [2, 2, 1]
    assert everything.pk in [delivery[0] for delivery in many[0][3]]
