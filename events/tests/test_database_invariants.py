"""Rules the database keeps for events and deliveries, proven with SQL that bypasses the ORM."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from events.models import Event, WebhookDelivery
from events.services import webhook_endpoint_create
from tests.factories import EndUserFactory, open_account

pytestmark = pytest.mark.django_db


@pytest.fixture
def delivery():
    user = EndUserFactory()
    webhook_endpoint_create(client_id=user.client_id, url="http://127.0.0.1:9/")
    open_account(user, "USD", deposit=100)
    return WebhookDelivery.objects.get()


def execute(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_an_event_cannot_be_changed_by_raw_sql(delivery):
    event = delivery.event
    with pytest.raises(DatabaseError, match="events_event rows are immutable"), transaction.atomic():
        execute("UPDATE events_event SET data = %s WHERE id = %s", ['{"forged": true}', event.pk])
    assert Event.objects.get(pk=event.pk).data == event.data


def test_a_final_delivery_cannot_stay_due_and_a_pending_one_must_be(delivery):
    with pytest.raises(IntegrityError, match="events_delivery_due_only_when_pending"), transaction.atomic():
        execute("UPDATE events_webhookdelivery SET status = 'succeeded' WHERE id = %s", [delivery.pk])
    with pytest.raises(IntegrityError, match="events_delivery_due_only_when_pending"), transaction.atomic():
        execute("UPDATE events_webhookdelivery SET next_attempt_at = NULL WHERE id = %s", [delivery.pk])
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == "pending"


def test_an_event_is_delivered_to_an_endpoint_once(delivery):
    with pytest.raises(IntegrityError), transaction.atomic():
        execute(
            "INSERT INTO events_webhookdelivery (event_id, endpoint_id, status, attempts, next_attempt_at, created_at)"
            " VALUES (%s, %s, 'pending', 0, %s, %s)",
            [delivery.event_id, delivery.endpoint_id, timezone.now(), timezone.now()],
        )
    assert WebhookDelivery.objects.count() == 1


def test_purge_events_deletes_only_events_past_retention_with_their_deliveries(delivery, settings):
    # given: the delivered event is older than the retention, the others are recent
    settings.EVENT_RETENTION_DAYS = 30
    old = delivery.event
    Event.objects.filter(pk=old.pk).delete()  # re-created below with an old date (events are immutable)
    old_event = Event.objects.create(type=old.type, client_id=old.client_id, data=old.data,
                                     created_at=timezone.now() - timedelta(days=31))
    WebhookDelivery.objects.create(event=old_event, endpoint_id=delivery.endpoint_id)
    recent = Event.objects.count() - 1
    # when
    out = StringIO()
    call_command("purge_events", stdout=out)
    # then
    assert "Deleted 1 events" in out.getvalue()
    assert not Event.objects.filter(pk=old_event.pk).exists()
    assert Event.objects.count() == recent
    assert not WebhookDelivery.objects.filter(event_id=old_event.pk).exists()
