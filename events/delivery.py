"""Sending webhooks: claim a due delivery, POST it signed, record the attempt, schedule the retry.

At least once, never inside a request: the worker runs `delivery_attempt` (events.tasks), and the
`deliver_webhooks` sweep runs every delivery that is due, so one whose task was lost (a crash
between commit and enqueue) or whose worker died mid-send is sent again — with the same
`webhook-id` (the event id), which receivers use to drop duplicates.

A delivery is claimed by moving `next_attempt_at` forward by a lease (one guarded UPDATE), so two
workers never send it at once; a worker killed after claiming leaves it due again when the lease
ends. The HTTP request: POST, JSON body `{id, type, created_at, data}`, Standard Webhooks headers
signed with the `standardwebhooks` package, a 10 s budget, no redirects, and at most 1 KB of the
answer read. The URL is checked again (events.url_safety) and the connection goes to the address
that was checked. 2xx is success; anything else, or no answer, is retried after the next delay of
WEBHOOK_RETRY_SCHEDULE_SECONDS (±10 % jitter), then the delivery is failed.
"""

import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import timedelta

import urllib3
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from events.api.serializers import EventSerializer
from events.models import DeliveryAttempt, Event, WebhookDelivery, WebhookEndpoint
from events.services import delivery_schedule, webhook_endpoint_disable_for_failures
from events.signing import secret_decrypt
from events.url_safety import Target, UnsafeWebhookUrlError, webhook_url_check

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10
RESPONSE_BODY_LIMIT = 1024
JITTER = 0.1
USER_AGENT = "brokerage-webhooks/1"


@dataclass(frozen=True)
class Outcome:
    status: int | None
    body: str
    error: str
    latency_ms: int

    @property
    def is_success(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def delivery_attempt(*, delivery_id: int) -> WebhookDelivery | None:
    """Attempt one delivery if it is due and its endpoint enabled; None when there was nothing to
    do (not due, already final, or another worker holds it)."""
    now = timezone.now()
    lease = timedelta(seconds=settings.WEBHOOK_DELIVERY_LEASE_SECONDS)
    if not WebhookEndpoint.objects.filter(deliveries=delivery_id, is_enabled=True).exists():
        return None
    # Conditions on the row itself only: PostgreSQL re-checks them on the row a concurrent claim
    # just committed (a join would be evaluated against the older snapshot), so one claim wins.
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
    ).update(next_attempt_at=now + lease)
    if claimed != 1:
        return None
    delivery = WebhookDelivery.objects.select_related("event", "endpoint").get(pk=delivery_id)
    outcome = _send(event=delivery.event, endpoint=delivery.endpoint)
    return _record(delivery=delivery, outcome=outcome)


def deliveries_due_run(*, limit: int = 500) -> int:
    """Attempt every delivery that is due (oldest due first, at most `limit`); returns how many
    were attempted. Safe alongside workers: each is claimed before it is sent."""
    due = (
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=timezone.now(), endpoint__is_enabled=True
        )
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    attempted = 0
    for delivery_id in list(due):
        try:
            if delivery_attempt(delivery_id=delivery_id) is not None:
                attempted += 1
        except Exception:
            # One broken delivery must not stop the others; its lease ends and it is tried again.
            logger.exception("webhook delivery failed", extra={"delivery_id": delivery_id})
    return attempted


def retry_delay(*, attempts: int) -> timedelta | None:
    """How long after failed attempt number `attempts` (1-based) to try again; None: give up."""
    schedule = settings.WEBHOOK_RETRY_SCHEDULE_SECONDS
    if attempts > len(schedule):
        return None
    base = schedule[attempts - 1]
    # Jitter spreads retries of many deliveries that failed together (an endpoint back up).
    return timedelta(seconds=base * random.uniform(1 - JITTER, 1 + JITTER))  # noqa: S311 - not security


def event_payload(event: Event) -> str:
    """The body a receiver gets: the event as GET /events/{id}/ renders it, compact JSON."""
    return json.dumps(EventSerializer(event).data, separators=(",", ":"), ensure_ascii=False)


def _send(*, event: Event, endpoint: WebhookEndpoint) -> Outcome:
    started = time.monotonic()
    try:
        target = webhook_url_check(endpoint.url)
    except UnsafeWebhookUrlError as error:
        return Outcome(status=None, body="", error=f"refused: {error.detail}", latency_ms=0)
    try:
        return _post(target=target, event=event, endpoint=endpoint, started=started)
    except Exception as error:  # noqa: BLE001 - any failure to deliver is a failed attempt, retried on schedule
        return Outcome(status=None, body="", error=_short(f"{type(error).__name__}: {error}"),
                       latency_ms=_elapsed_ms(started))


def _post(*, target: Target, event: Event, endpoint: WebhookEndpoint, started: float) -> Outcome:
    body = event_payload(event)
    sent_at = timezone.now()
    signature = Webhook(secret_decrypt(endpoint.encrypted_secret)).sign(
        msg_id=event.public_id, timestamp=sent_at, data=body
    )
    default_port = 443 if target.scheme == "https" else 80
    headers = {
        "Host": target.host if target.port == default_port else f"{target.host}:{target.port}",
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": event.public_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": signature,
    }
    timeout = urllib3.Timeout(total=TIMEOUT_SECONDS)
    if target.scheme == "https":
        # Connect to the checked address; certificate and SNI are for the URL's host name.
        pool: urllib3.HTTPConnectionPool = urllib3.HTTPSConnectionPool(
            target.address, target.port, timeout=timeout, retries=False, maxsize=1,
            server_hostname=target.host, assert_hostname=target.host,
        )
    else:
        pool = urllib3.HTTPConnectionPool(target.address, target.port, timeout=timeout, retries=False, maxsize=1)
    try:
        response = pool.urlopen(
            "POST", target.path, body=body.encode(), headers=headers, redirect=False, retries=False,
            preload_content=False, assert_same_host=False,
        )
        try:
            content = response.read(RESPONSE_BODY_LIMIT)
        finally:
            response.release_conn()
        return Outcome(
            status=response.status,
            body=content.decode("utf-8", errors="replace"),
            error="",
            latency_ms=_elapsed_ms(started),
        )
    finally:
        pool.close()


def _record(*, delivery: WebhookDelivery, outcome: Outcome) -> WebhookDelivery:
    now = timezone.now()
    attempts = delivery.attempts + 1
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            delivery=delivery,
            attempted_at=now,
            response_status=outcome.status,
            error=outcome.error,
            latency_ms=outcome.latency_ms,
            response_body=outcome.body,
            is_success=outcome.is_success,
        )
        changes: dict = {"attempts": F("attempts") + 1, "last_attempt_at": now}
        if outcome.is_success:
            changes.update(status=WebhookDelivery.Status.SUCCEEDED, next_attempt_at=None, delivered_at=now)
            WebhookEndpoint.objects.filter(pk=delivery.endpoint_id, failing_since__isnull=False).update(
                failing_since=None
            )
        else:
            delay = retry_delay(attempts=attempts)
            if delay is None:
                changes.update(status=WebhookDelivery.Status.FAILED, next_attempt_at=None)
            else:
                changes.update(next_attempt_at=now + delay)
                delivery_schedule(delivery_ids=[delivery.pk], run_after=now + delay)
            WebhookEndpoint.objects.filter(pk=delivery.endpoint_id, failing_since__isnull=True).update(
                failing_since=now
            )
            webhook_endpoint_disable_for_failures(endpoint_id=delivery.endpoint_id, now=now)
        # Only the holder of the claim records: the row is still pending and not re-claimed.
        WebhookDelivery.objects.filter(pk=delivery.pk, status=WebhookDelivery.Status.PENDING).update(**changes)
    delivery.refresh_from_db()
    return delivery


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _short(text: str) -> str:
    return text[:500]
