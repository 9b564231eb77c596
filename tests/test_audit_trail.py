"""Lifecycle changes are audited by the services that make them, so every path records them:
management commands, the API and admin alike — and a refused change records nothing."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from accounts.callers import Caller
from accounts.models import ApiKey, User
from accounts.services import api_key_revoke
from audit.models import AuditEvent
from broker.models import Rate
from tests.factories import PlatformStaffFactory

pytestmark = pytest.mark.django_db


def test_create_client_command_audits_the_client_and_its_first_key_without_the_secret():
    # when
    out = StringIO()
    call_command("create_client", "Audited Fintech", stdout=out)
    printed = json.loads(out.getvalue())
    # then
    events = list(AuditEvent.objects.filter(client_id=printed["client_id"]).order_by("id"))
    assert [event.action for event in events] == ["accounts.client_create", "accounts.api_key_create"]
    key = ApiKey.objects.get(client_id=printed["client_id"])
    assert events[1].after["prefix"] == key.prefix
    secret = printed["api_key"].split(".", 1)[1]
    assert all(secret not in json.dumps([event.before, event.after, event.object_repr]) for event in events)


def test_revoking_a_key_is_audited_once(tenant):
    # when: revoked twice
    api_key_revoke(key=tenant.api_key)
    api_key_revoke(key=tenant.api_key)
    # then
    assert AuditEvent.objects.filter(action="accounts.api_key_revoke", object_id=str(tenant.api_key.pk)).count() == 1


def test_deleting_a_user_through_the_api_is_audited(api, tenant):
    # when
    response = api.delete(f"/api/v1/users/{tenant.peer.pk}/", **tenant.auth)
    # then
    assert response.status_code == 204
    event = AuditEvent.objects.get(action="accounts.user_deactivate", object_id=str(tenant.peer.pk))
    assert (event.client_id, event.before, event.after) == (tenant.client.pk, {"is_active": True}, {"is_active": False})
    assert event.request_id  # the request that made the change is traceable


def test_rate_change_through_the_staff_api_is_audited_with_its_actor(tenant):
    # given: an Operations staff member (superuser holds every role)
    staff = PlatformStaffFactory(is_superuser=True)
    api = APIClient()
    api.force_authenticate(user=staff, token=Caller.for_person(staff))
    before = Rate.objects.get(currency_id="BTC").price_e8
    rate_events_before = AuditEvent.objects.filter(action="broker.rate_update").count()
    # when
    response = api.put("/api/v1/rates/BTC/", {"price": "61000.5"}, format="json")
    unchanged = api.put("/api/v1/rates/BTC/", {"price": "61000.5"}, format="json")
    # then: one event for the one change
    assert (response.status_code, unchanged.status_code) == (200, 200)
    assert AuditEvent.objects.filter(action="broker.rate_update").count() == rate_events_before + 1
    event = AuditEvent.objects.get(action="broker.rate_update", actor=staff)
    assert event.before == {"price": f"{before // 10**8}.00000000"}
    assert event.after["price"] == "61000.50000000"


def test_refused_rate_change_writes_no_audit_event(tenant):
    staff = PlatformStaffFactory(is_superuser=True)
    api = APIClient()
    api.force_authenticate(user=staff, token=Caller.for_person(staff))
    events_before = AuditEvent.objects.count()
    # when
    response = api.put("/api/v1/rates/BTC/", {"price": "-1"}, format="json")
    # then
    assert response.status_code == 400
    assert AuditEvent.objects.count() == events_before
    assert User.objects.filter(pk=staff.pk).exists()
