"""Writes for events and webhook endpoints.

`event_record` is the one way an event is written: the service that makes a change calls it in
its own transaction (next to its audit event), never from a signal, a view or after commit, so
an event exists exactly when its change committed. Deliveries to the client's endpoints are
written in that same transaction (the outbox) and handed to the worker once it commits; a crash
in between loses nothing, the `deliver_webhooks` sweep finds them due.
"""

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.utils import timezone

from audit.services import audit_record
from core.errors import ConflictError
from core.prepared import prepared_cursor
from events import registry
from events.models import Event, WebhookDelivery, WebhookEndpoint, event_public_id
from events.signing import secret_encrypt, secret_generate
from events.url_safety import webhook_url_check


class WebhookEndpointDisabledError(ConflictError):
    code = "webhook_endpoint_disabled"
    title = "Webhook endpoint disabled"


def event_record(
    *, type: str, obj: models.Model, client_id: int | None = None, **render_context: Any  # noqa: A002
) -> Event:
    """Write one event about `obj` and its deliveries, in the caller's transaction.

    `data` is `obj` rendered by the renderer its app registered (events.registry): the object
    exactly as the API shows it; `render_context` goes to that renderer (a new journal entry's
    legs, so it renders without reading its postings back). `client_id` defaults to
    `obj.client_id`. Each enabled endpoint of the client that wants `type` gets a pending
    delivery; the worker is asked to send them once the transaction commits.
    """
    if type not in Event.Type.values:
        raise ValueError(f"Unknown event type {type!r}.")
    if client_id is None:
        client_id = obj.client_id  # type: ignore[attr-defined]  # every evented model has a client
    data = event_data(obj, **render_context)
    # Part of the caller's transaction, without a savepoint of its own: on the hot path of every
    # movement, and an error here fails the change anyway.
    with transaction.atomic(savepoint=False):
        if connection.vendor == "postgresql":
            event, delivery_ids = _event_write_in_one_statement(type=type, client_id=client_id, data=data)
        else:
            event, delivery_ids = _event_write(type=type, client_id=client_id, data=data)
        if delivery_ids:
            delivery_schedule(delivery_ids=delivery_ids)
    return event


def event_data(obj: models.Model, **render_context: Any) -> str:
    """The JSON text of an event's `data` about `obj`: what its app's renderer makes of it."""
    return json.dumps(registry.render(obj, **render_context), cls=DjangoJSONEncoder)


def event_record_many(
    *, type: str, objs: Sequence[models.Model], render_contexts: Sequence[dict] | None = None  # noqa: A002
) -> list[Event]:
    """`event_record` for many objects (of one or several clients) at once, in order: exactly the
    events and deliveries it would write for each in turn, on PostgreSQL in one statement (a
    batch's entries). `render_contexts`, one per object, go to the renderer as `render_context`.
    """
    if type not in Event.Type.values:
        raise ValueError(f"Unknown event type {type!r}.")
    contexts = render_contexts if render_contexts is not None else [{}] * len(objs)
    client_ids = [obj.client_id for obj in objs]  # type: ignore[attr-defined]  # every evented model has a client
    data = [event_data(obj, **context) for obj, context in zip(objs, contexts, strict=True)]
    with transaction.atomic(savepoint=False):
        if connection.vendor == "postgresql":
            events, delivery_ids = _events_write_in_one_statement(type=type, client_ids=client_ids, data=data)
        else:
            events, delivery_ids = [], []
            for client_id, one_data in zip(client_ids, data, strict=True):
                event, ids = _event_write(type=type, client_id=client_id, data=one_data)
                events.append(event)
                delivery_ids += ids
        if delivery_ids:
            delivery_schedule(delivery_ids=delivery_ids)
    return events


# The event and a delivery for each enabled endpoint of its client that wants its type, in one
# round trip. Data-modifying CTEs always run to completion, referenced or not.
_EVENT_WITH_DELIVERIES = """
WITH event AS (
    INSERT INTO events_event (public_id, type, client_id, created_at, data)
    VALUES (%(public_id)s, %(type)s, %(client_id)s, %(created_at)s, %(data)s::jsonb)
    RETURNING id, created_at
), deliveries AS (
    INSERT INTO events_webhookdelivery (event_id, endpoint_id, status, attempts, next_attempt_at, created_at)
    SELECT event.id, endpoint.id, 'pending', 0, event.created_at, event.created_at
    FROM event, events_webhookendpoint endpoint
    WHERE endpoint.client_id = %(client_id)s AND endpoint.is_enabled
      AND (endpoint.event_types = '[]'::jsonb OR endpoint.event_types @> jsonb_build_array(%(type)s::text))
    RETURNING id
)
SELECT (SELECT id FROM event), ARRAY(SELECT id FROM deliveries ORDER BY id)
"""


def _event_write_in_one_statement(*, type: str, client_id: int, data: str) -> tuple[Event, list[int]]:  # noqa: A002
    event = Event(public_id=event_public_id(), type=type, client_id=client_id, created_at=timezone.now())
    with prepared_cursor() as cursor:
        cursor.execute(
            _EVENT_WITH_DELIVERIES,
            {"public_id": event.public_id, "type": type, "client_id": client_id, "created_at": event.created_at,
             "data": data},
        )
        event.pk, delivery_ids = cursor.fetchone()
    event.data = json.loads(data)
    event._state.adding = False
    return event, list(delivery_ids)



# Many events, inserted in the order given, and for each a delivery per enabled endpoint of its
# client that wants the type; the same rows as `_EVENT_WITH_DELIVERIES` once per event.
_EVENTS_WITH_DELIVERIES = """
WITH event AS (
    INSERT INTO events_event (public_id, type, client_id, created_at, data)
    SELECT item.public_id, %(type)s, item.client_id, %(created_at)s, item.data::jsonb
    FROM unnest(%(public_ids)s::text[], %(client_ids)s::bigint[], %(data)s::text[])
         WITH ORDINALITY AS item(public_id, client_id, data, position)
    ORDER BY item.position
    RETURNING id, public_id, client_id, created_at
), deliveries AS (
    INSERT INTO events_webhookdelivery (event_id, endpoint_id, status, attempts, next_attempt_at, created_at)
    SELECT event.id, endpoint.id, 'pending', 0, event.created_at, event.created_at
    FROM event JOIN events_webhookendpoint endpoint ON endpoint.client_id = event.client_id
    WHERE endpoint.is_enabled
      AND (endpoint.event_types = '[]'::jsonb OR endpoint.event_types @> jsonb_build_array(%(type)s::text))
    ORDER BY event.id, endpoint.id
    RETURNING id
)
SELECT ARRAY(SELECT public_id FROM event), ARRAY(SELECT id FROM event), ARRAY(SELECT id FROM deliveries ORDER BY id)
"""


def _events_write_in_one_statement(
    *, type: str, client_ids: list[int], data: list[str]  # noqa: A002
) -> tuple[list[Event], list[int]]:
    now = timezone.now()
    events = [
        Event(public_id=event_public_id(), type=type, client_id=client_id, created_at=now, data=json.loads(one_data))
        for client_id, one_data in zip(client_ids, data, strict=True)
    ]
    with prepared_cursor() as cursor:
        cursor.execute(
            _EVENTS_WITH_DELIVERIES,
            {"type": type, "created_at": now, "public_ids": [event.public_id for event in events],
             "client_ids": client_ids, "data": data},
        )
        public_ids, event_ids, delivery_ids = cursor.fetchone()
    id_of = dict(zip(public_ids, event_ids, strict=True))
    for event in events:
        event.pk = id_of[event.public_id]
        event._state.adding = False
    return events, list(delivery_ids)


def _event_write(*, type: str, client_id: int, data: str) -> tuple[Event, list[int]]:  # noqa: A002
    """The same writes through the ORM (SQLite): the event, the client's endpoints, the deliveries."""
    event = Event.objects.create(type=type, client_id=client_id, data=json.loads(data))
    endpoints = WebhookEndpoint.objects.filter(client_id=client_id, is_enabled=True).only("pk", "event_types")
    deliveries = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(event=event, endpoint_id=endpoint.pk, next_attempt_at=event.created_at)
            for endpoint in endpoints
            if endpoint.wants(type)
        ]
    )
    return event, [delivery.pk for delivery in deliveries]


def delivery_schedule(*, delivery_ids: Iterable[int], run_after: datetime | None = None) -> None:
    """Ask the worker to attempt these deliveries once the current transaction commits."""
    delivery_ids = list(delivery_ids)

    def enqueue() -> None:
        from events.tasks import webhook_deliver_task

        task = webhook_deliver_task.using(run_after=run_after) if run_after is not None else webhook_deliver_task
        for delivery_id in delivery_ids:
            task.enqueue(delivery_id=delivery_id)

    transaction.on_commit(enqueue)


def events_purge(*, now: datetime | None = None) -> int:
    """Delete events older than EVENT_RETENTION_DAYS, with their deliveries; returns how many."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.EVENT_RETENTION_DAYS)
    deleted, per_model = Event.objects.filter(created_at__lt=cutoff).delete()
    return per_model.get(Event._meta.label, 0)


def webhook_endpoint_create(
    *,
    client_id: int,
    url: str,
    event_types: list[str] | None = None,
    description: str = "",
    actor: Any = None,
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint. Returns it and its signing secret in plain text, which is never
    shown again (only its encryption is stored). Raises UnsafeWebhookUrlError."""
    webhook_url_check(url)
    secret = secret_generate()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            client_id=client_id,
            url=url,
            event_types=_event_types(event_types),
            description=description,
            encrypted_secret=secret_encrypt(secret),
        )
        audit_record(
            actor=actor, action="events.webhook_endpoint_create", obj=endpoint,
            after={"url": url, "event_types": endpoint.event_types, "description": description},
        )
    return endpoint, secret


def webhook_endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    url: str | None = None,
    event_types: list[str] | None = None,
    description: str | None = None,
    is_enabled: bool | None = None,
    actor: Any = None,
) -> WebhookEndpoint:
    """Change an endpoint; None leaves a field as it is. Enabling it again forgets its failures.
    Raises UnsafeWebhookUrlError."""
    changes: dict[str, Any] = {}
    if url is not None:
        webhook_url_check(url)
        changes["url"] = url
    if event_types is not None:
        changes["event_types"] = _event_types(event_types)
    if description is not None:
        changes["description"] = description
    if is_enabled is not None:
        changes["is_enabled"] = is_enabled
        if is_enabled and not endpoint.is_enabled:
            changes["failing_since"] = None
            changes["disabled_at"] = None
        elif not is_enabled and endpoint.is_enabled:
            changes["disabled_at"] = timezone.now()
    changes = {field: value for field, value in changes.items() if getattr(endpoint, field) != value}
    if not changes:
        return endpoint
    before = {field: getattr(endpoint, field) for field in changes}
    with transaction.atomic():
        for field, value in changes.items():
            setattr(endpoint, field, value)
        endpoint.save(update_fields=[*changes, "updated_at"])
        audit_record(actor=actor, action="events.webhook_endpoint_update", obj=endpoint, before=before, after=changes)
        if changes.get("is_enabled"):
            # Deliveries that waited while it was disabled go out now, not at the next sweep.
            waiting = WebhookDelivery.objects.filter(endpoint=endpoint, status=WebhookDelivery.Status.PENDING)
            waiting.update(next_attempt_at=timezone.now())
            delivery_schedule(delivery_ids=waiting.values_list("pk", flat=True))
    return endpoint


def webhook_endpoint_rotate_secret(*, endpoint: WebhookEndpoint, actor: Any = None) -> tuple[WebhookEndpoint, str]:
    """Replace the signing secret at once; deliveries from now on are signed with the new one."""
    secret = secret_generate()
    with transaction.atomic():
        endpoint.encrypted_secret = secret_encrypt(secret)
        endpoint.save(update_fields=["encrypted_secret", "updated_at"])
        audit_record(actor=actor, action="events.webhook_endpoint_rotate_secret", obj=endpoint)
    return endpoint, secret


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint, actor: Any = None) -> None:
    """Delete an endpoint with its deliveries and their attempts (the events stay)."""
    with transaction.atomic():
        audit_record(
            actor=actor, action="events.webhook_endpoint_delete", obj=endpoint,
            before={"url": endpoint.url, "event_types": endpoint.event_types},
        )
        endpoint.delete()


def webhook_endpoint_disable_for_failures(*, endpoint_id: int, now: datetime) -> bool:
    """Disable an endpoint that has failed without a success since longer than
    WEBHOOK_DISABLE_AFTER_HOURS, and record `webhook_endpoint.disabled`. Once: True only for the
    call that disabled it."""
    cutoff = now - timedelta(hours=settings.WEBHOOK_DISABLE_AFTER_HOURS)
    with transaction.atomic():
        disabled = WebhookEndpoint.objects.filter(
            pk=endpoint_id, is_enabled=True, failing_since__lte=cutoff
        ).update(is_enabled=False, disabled_at=now, updated_at=now)
        if not disabled:
            return False
        endpoint = WebhookEndpoint.objects.get(pk=endpoint_id)
        audit_record(
            action="events.webhook_endpoint_disabled", obj=endpoint,
            before={"is_enabled": True}, after={"is_enabled": False, "failing_since": endpoint.failing_since},
        )
        event_record(type=Event.Type.WEBHOOK_ENDPOINT_DISABLED, obj=endpoint)
    return True


def webhook_delivery_retry(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Attempt a delivery again now, whatever its status (one more attempt for a failed one).
    Raises WebhookEndpointDisabledError (enable the endpoint first)."""
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
        if not endpoint.is_enabled:
            raise WebhookEndpointDisabledError(f"Webhook endpoint {endpoint.pk} is disabled; enable it first.")
        now = timezone.now()
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=WebhookDelivery.Status.PENDING, next_attempt_at=now
        )
        delivery_schedule(delivery_ids=[delivery.pk])
    delivery.refresh_from_db()
    return delivery


def _event_types(event_types: list[str] | None) -> list[str]:
    # Sorted and unique, so "all types" is always [] and comparisons are stable.
    return sorted(set(event_types or []))
