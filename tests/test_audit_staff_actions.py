"""Every staff action writes exactly one audit event, whether it comes through admin or the API,
because the service that makes the change writes it (admin and views never do)."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.callers import Caller
from audit.models import AuditEvent
from broker.models import OfferedCurrency, Order
from ledger.models import JournalEntry
from operations.models import ComplianceRule, ReviewItem
from tests.factories import PlatformStaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff():
    return PlatformStaffFactory(is_superuser=True)


@pytest.fixture
def staff_api(staff):
    api = APIClient()
    api.force_authenticate(user=staff, token=Caller.for_person(staff))
    return api


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action))


def test_cancelling_an_order_through_the_api_writes_one_event_with_the_staff_actor(staff_api, staff, tenant):
    # when
    response = staff_api.post(f"/api/v1/orders/{tenant.order.pk}/cancel/?client={tenant.client.pk}")
    # then
    assert response.status_code == 200
    [event] = events("broker.order_cancel")
    assert (event.actor, event.object_id, event.client_id) == (staff, str(tenant.order.pk), tenant.client.pk)
    assert event.after == {"status": Order.Status.CANCELLED}


def test_cancelling_an_order_in_admin_writes_one_event(client, staff, tenant):
    client.force_login(staff)
    response = client.post(
        reverse("admin:broker_order_changelist"), {"action": "cancel_orders", "_selected_action": [tenant.order.pk]}
    )
    assert response.status_code == 302
    [event] = events("broker.order_cancel")
    assert event.actor == staff


def test_refused_cancel_writes_no_event(staff_api, tenant):
    staff_api.post(f"/api/v1/orders/{tenant.order.pk}/cancel/")
    # when: cancelled again (already final)
    response = staff_api.post(f"/api/v1/orders/{tenant.order.pk}/cancel/")
    # then
    assert response.status_code == 409
    assert len(events("broker.order_cancel")) == 1


def test_reversing_a_transfer_through_the_api_writes_one_event_with_the_staff_actor(staff_api, staff, tenant):
    response = staff_api.post(f"/api/v1/transfers/{tenant.transfer.pk}/reverse/", {}, format="json")
    assert response.status_code == 201
    [event] = events("ledger.transfer_reverse")
    assert (event.actor, event.object_id) == (staff, str(tenant.transfer.pk))
    assert event.after == {"reversal_entry_id": JournalEntry.objects.get(reverses=tenant.transfer).pk}


def test_reversing_a_transfer_in_admin_writes_one_event(client, staff, tenant):
    client.force_login(staff)
    client.post(
        reverse("admin:ledger_journalentry_changelist"),
        {"action": "reverse_transfers", "_selected_action": [tenant.transfer.pk]},
    )
    [event] = events("ledger.transfer_reverse")
    assert event.actor == staff


def test_offering_a_currency_in_admin_writes_one_event_and_removing_it_another(client, staff, tenant):
    client.force_login(staff)
    client.post(reverse("admin:broker_offeredcurrency_add"), {"client": tenant.client.pk, "currency": "BTC"})
    offered = OfferedCurrency.objects.get(client=tenant.client, currency_id="BTC")
    [added] = events("broker.offered_currency_add")
    assert (added.actor, added.client_id, added.after) == (staff, tenant.client.pk, {"currency": "BTC"})
    # when removed
    client.post(reverse("admin:broker_offeredcurrency_delete", args=[offered.pk]), {"post": "yes"})
    # then
    assert not OfferedCurrency.objects.filter(pk=offered.pk).exists()
    [removed] = events("broker.offered_currency_remove")
    assert (removed.actor, removed.before) == (staff, {"currency": "BTC"})
    assert len(events("broker.offered_currency_add")) == 1


def test_editing_a_review_note_in_admin_writes_one_event(client, staff, tenant):
    rule = ComplianceRule.objects.first()
    item = ReviewItem.objects.create(
        client=tenant.client, user=tenant.user, entry=tenant.transfer, rule=rule, detail="large transfer"
    )
    client.force_login(staff)
    response = client.post(reverse("admin:operations_reviewitem_change", args=[item.pk]), {"note": "called user"})
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.note == "called user"
    [event] = events("operations.review_item_note")
    assert (event.actor, event.before, event.after) == (staff, {"note": ""}, {"note": "called user"})
