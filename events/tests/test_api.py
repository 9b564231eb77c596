"""The events feed and webhook endpoints through the API (cross-tenant and unauthenticated calls
are in tests/test_api_cross_tenant.py)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from core.models import IdempotencyRecord
from events.models import Event, WebhookDelivery, WebhookEndpoint
from events.services import webhook_endpoint_create
from events.signing import secret_decrypt
from ledger.services import deposit_create
from tests.fixtures import ledger_snapshot, staff_with_role

pytestmark = pytest.mark.django_db

ENDPOINTS = "/api/v1/webhook-endpoints/"


def create_endpoint(api, tenant, body=None, **headers):
    return api.post(ENDPOINTS, body or {"url": "https://hooks.example.com/in"}, format="json", **tenant.auth,
                    **headers)


@pytest.fixture(autouse=True)
def public_dns(monkeypatch):
    # hooks.example.com is a public address; nothing here leaves the machine.
    import socket

    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host == "hooks.example.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_registering_an_endpoint_shows_its_secret_once_and_stores_it_encrypted(api, tenant):
    # when
    response = create_endpoint(
        api, tenant, {"url": "https://hooks.example.com/in", "event_types": ["order.filled", "transaction.created"],
                      "description": "ERP"},
    )
    # then
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["secret"].startswith("whsec_")
    assert (body["url"], body["event_types"], body["description"], body["is_enabled"]) == (
        "https://hooks.example.com/in", ["order.filled", "transaction.created"], "ERP", True
    )
    endpoint = WebhookEndpoint.objects.get(pk=body["id"])
    assert endpoint.client_id == tenant.client.pk
    assert body["secret"] not in endpoint.encrypted_secret
    assert secret_decrypt(endpoint.encrypted_secret) == body["secret"]
    # and it is never shown again
    shown = api.get(f"{ENDPOINTS}{endpoint.pk}/", **tenant.auth).json()
    assert "secret" not in shown and shown["id"] == endpoint.pk
    assert all("secret" not in row for row in api.get(ENDPOINTS, **tenant.auth).json()["results"])


def test_a_replayed_registration_creates_one_endpoint_and_never_stores_the_secret(api, tenant):
    first = create_endpoint(api, tenant, HTTP_IDEMPOTENCY_KEY="we-1")
    replay = create_endpoint(api, tenant, HTTP_IDEMPOTENCY_KEY="we-1")

    assert first.status_code == replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == first.json()["id"]
    assert replay.json()["secret"] is None
    assert WebhookEndpoint.objects.filter(client=tenant.client).count() == 2  # the tenant's own + this one
    stored = IdempotencyRecord.objects.get(key="we-1").response_body
    assert first.json()["secret"] not in stored


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "not a url"}, "url"),
        ({"url": "https://hooks.example.com/in", "event_types": ["order.teleported"]}, "event_types"),
        ({"url": "https://hooks.example.com/in", "event_types": "order.filled"}, "event_types"),
        ({}, "url"),
    ],
)
def test_malformed_registrations_are_400_and_write_nothing(api, tenant, body, field):
    before = ledger_snapshot()
    response = api.post(ENDPOINTS, body, format="json", **tenant.auth)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert field in response.json()["errors"]
    assert ledger_snapshot() == before


def test_an_unsafe_url_is_refused_in_production(api, tenant, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    before = ledger_snapshot()
    response = create_endpoint(api, tenant, {"url": "https://169.254.169.254/latest/meta-data/"})
    assert response.status_code == 400
    assert response.json()["code"] == "unsafe_webhook_url"
    assert ledger_snapshot() == before
    patched = api.patch(f"{ENDPOINTS}{tenant.webhook_endpoint.pk}/", {"url": "http://10.0.0.1/"}, format="json",
                        **tenant.auth)
    assert patched.status_code == 400 and patched.json()["code"] == "unsafe_webhook_url"
    assert ledger_snapshot() == before


def test_an_endpoint_is_updated_disabled_and_deleted(api, tenant):
    endpoint_id = create_endpoint(api, tenant).json()["id"]
    path = f"{ENDPOINTS}{endpoint_id}/"

    patched = api.patch(path, {"event_types": [], "description": "all", "is_enabled": False}, format="json",
                        **tenant.auth)
    assert patched.status_code == 200, patched.content
    assert (patched.json()["event_types"], patched.json()["is_enabled"]) == ([], False)
    assert patched.json()["disabled_at"] is not None

    # a disabled endpoint gets no deliveries
    deposit_create(account=tenant.usd, amount=1)
    assert not WebhookDelivery.objects.filter(endpoint_id=endpoint_id).exists()

    assert api.delete(path, **tenant.auth).status_code == 204
    assert not WebhookEndpoint.objects.filter(pk=endpoint_id).exists()
    assert api.get(path, **tenant.auth).status_code == 404


def test_rotating_the_secret_answers_the_new_one_once(api, tenant):
    created = create_endpoint(api, tenant).json()
    response = api.post(f"{ENDPOINTS}{created['id']}/rotate-secret/", {}, format="json", **tenant.auth)
    assert response.status_code == 200
    secret = response.json()["secret"]
    assert secret.startswith("whsec_") and secret != created["secret"]
    assert secret_decrypt(WebhookEndpoint.objects.get(pk=created["id"]).encrypted_secret) == secret


def test_platform_staff_name_the_client_to_register_an_endpoint(api, tenant):
    api.force_login(staff_with_role("Operations"))
    body = {"url": "https://hooks.example.com/in"}
    refused = api.post(ENDPOINTS, body, format="json")
    assert refused.status_code == 400 and "client" in refused.json()["errors"]
    assert WebhookEndpoint.objects.count() == 1
    created = api.post(f"{ENDPOINTS}?client={tenant.client.pk}", body, format="json")
    assert created.status_code == 201
    assert WebhookEndpoint.objects.get(pk=created.json()["id"]).client_id == tenant.client.pk


def test_read_only_staff_see_events_but_cannot_register_endpoints(api, tenant):
    api.force_login(staff_with_role("Read-only"))
    assert api.get(f"/api/v1/events/?client={tenant.client.pk}").status_code == 200
    response = api.post(f"{ENDPOINTS}?client={tenant.client.pk}", {"url": "https://hooks.example.com/in"},
                        format="json")
    assert response.status_code == 403


def test_the_events_feed_runs_oldest_first_with_filters_and_cursors(api, tenant):
    # given: the tenant's events so far, then one more
    deposit_create(account=tenant.usd, amount=1)
    ids = list(Event.objects.filter(client=tenant.client).order_by("id").values_list("public_id", flat=True))
    # when paging two at a time
    seen, url = [], "/api/v1/events/?page_size=2"
    while url:
        page = api.get(url, **tenant.auth).json()
        seen += [row["id"] for row in page["results"]]
        url = page["next"]
    # then every event once, oldest first
    assert seen == ids and len(ids) > 4
    # filters
    types = {row["type"] for row in api.get("/api/v1/events/?type=order.accepted", **tenant.auth).json()["results"]}
    assert types == {"order.accepted"}
    future = (timezone.now() + timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    assert api.get("/api/v1/events/", {"created_after": future}, **tenant.auth).json()["results"] == []
    assert len(api.get("/api/v1/events/", {"created_before": future}, **tenant.auth).json()["results"]) == len(ids)
    assert api.get("/api/v1/events/?type=nope", **tenant.auth).status_code == 400


def test_one_event_is_served_by_its_id(api, tenant):
    event = Event.objects.filter(client=tenant.client, type="transaction.created").last()
    response = api.get(f"/api/v1/events/{event.public_id}/", **tenant.auth)
    assert response.status_code == 200
    assert response.json() == {
        "id": event.public_id, "type": "transaction.created",
        "created_at": event.created_at.isoformat().replace("+00:00", "Z"), "data": event.data,
    }
    assert api.get("/api/v1/events/evt_0000/", **tenant.auth).status_code == 404


def test_deliveries_are_listed_with_their_attempts_and_can_be_retried(api, tenant):
    delivery = tenant.webhook_delivery
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed", next_attempt_at=None, attempts=7)
    listed = api.get(f"{ENDPOINTS}{tenant.webhook_endpoint.pk}/deliveries/", **tenant.auth).json()["results"]
    assert delivery.pk in {row["id"] for row in listed}
    row = next(row for row in listed if row["id"] == delivery.pk)
    assert (row["status"], row["attempts"], row["attempt_log"]) == ("failed", 7, [])

    response = api.post(f"/api/v1/webhook-deliveries/{delivery.pk}/retry/", {}, format="json", **tenant.auth)

    assert response.status_code == 202, response.content
    assert response.json()["status"] == "pending" and response.json()["next_attempt_at"] is not None


def test_a_delivery_to_a_disabled_endpoint_is_not_retried(api, tenant):
    WebhookEndpoint.objects.filter(pk=tenant.webhook_endpoint.pk).update(is_enabled=False)
    WebhookDelivery.objects.filter(pk=tenant.webhook_delivery.pk).update(status="failed", next_attempt_at=None)
    response = api.post(f"/api/v1/webhook-deliveries/{tenant.webhook_delivery.pk}/retry/", {}, format="json",
                        **tenant.auth)
    assert response.status_code == 409
    assert response.json()["code"] == "webhook_endpoint_disabled"
    assert WebhookDelivery.objects.get(pk=tenant.webhook_delivery.pk).status == "failed"


def test_admin_registers_an_endpoint_and_shows_the_secret_once(client, tenant):
    staff = staff_with_role("Operations")
    client.force_login(staff)
    response = client.post(
        reverse("admin:events_webhookendpoint_add"),
        {"client": tenant.client.pk, "url": "https://hooks.example.com/admin", "description": "", "is_enabled": "on",
         "event_types": ["order.filled"]},
    )
    assert response.status_code == 200, response.content[:2000]
    assert "no-store" in response["Cache-Control"]
    endpoint = WebhookEndpoint.objects.get(url="https://hooks.example.com/admin")
    secret = secret_decrypt(endpoint.encrypted_secret)
    assert secret in response.content.decode()
    assert endpoint.event_types == ["order.filled"]
    page = client.get(reverse("admin:events_webhookendpoint_change", args=[endpoint.pk]))
    assert page.status_code == 200 and secret not in page.content.decode()

    rotated = client.post(
        reverse("admin:events_webhookendpoint_changelist"),
        {"action": "rotate_secrets", "_selected_action": [endpoint.pk]},
    )
    endpoint.refresh_from_db()
    assert secret_decrypt(endpoint.encrypted_secret) != secret
    assert secret_decrypt(endpoint.encrypted_secret) in rotated.content.decode()


def test_events_admin_is_read_only(client, tenant):
    client.force_login(staff_with_role("Operations"))
    event = Event.objects.filter(client=tenant.client).first()
    assert client.get(reverse("admin:events_event_change", args=[event.pk])).status_code == 200
    assert client.get(reverse("admin:events_event_add")).status_code == 403
    assert client.get(reverse("admin:events_webhookdelivery_changelist")).status_code == 200


def test_endpoint_services_write_an_audit_event(tenant):
    from audit.models import AuditEvent

    webhook_endpoint_create(client_id=tenant.client.pk, url="https://hooks.example.com/x")
    assert AuditEvent.objects.filter(action="events.webhook_endpoint_create").count() == 2


def test_admin_deletes_an_endpoint_through_the_audited_service(client, tenant):
    from audit.models import AuditEvent

    client.force_login(staff_with_role("Operations"))
    endpoint = tenant.webhook_endpoint
    response = client.post(reverse("admin:events_webhookendpoint_delete", args=[endpoint.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    assert AuditEvent.objects.filter(action="events.webhook_endpoint_delete", object_id=str(endpoint.pk)).exists()
