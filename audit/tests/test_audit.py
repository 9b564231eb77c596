import pytest
from django.db import DatabaseError, transaction

from audit.models import AuditEvent
from audit.services import audit_record
from core.middleware import request_id_var
from tests.factories import ClientFactory, PlatformStaffFactory


def test_audit_record_keeps_actor_client_object_values_and_request_id(db):
    actor = PlatformStaffFactory()
    tenant = ClientFactory()
    token = request_id_var.set("req-123")
    try:
        event = audit_record(actor=actor, action="accounts.client_change", obj=tenant,
                             before={"fee_bps": 50}, after={"fee_bps": 75})
    finally:
        request_id_var.reset(token)
    event.refresh_from_db()
    assert (event.actor, event.actor_repr, event.client) == (actor, actor.username, tenant)
    assert (event.object_type, event.object_id) == ("accounts.client", str(tenant.pk))
    assert (event.before, event.after, event.request_id) == ({"fee_bps": 50}, {"fee_bps": 75}, "req-123")


def test_audit_row_rolls_back_with_the_change(db):
    tenant = ClientFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        audit_record(action="test.action", obj=tenant)
        raise RuntimeError("the change failed")
    assert not AuditEvent.objects.exists()


def test_the_database_refuses_to_update_audit_events(db):
    # Both backends carry the UPDATE trigger (migration 0002).
    event = audit_record(action="test.action")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="rewritten")
    assert AuditEvent.objects.get(pk=event.pk).action == "test.action"


def test_postgresql_refuses_to_delete_audit_events(requires_postgres):
    # SQLite keeps no DELETE trigger: Django's test flush empties its tables with DELETE.
    event = audit_record(action="test.action")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_audit_log_in_admin_is_read_only_for_superusers(client, db):
    from django.urls import reverse

    superuser = PlatformStaffFactory(is_superuser=True)
    event = audit_record(actor=superuser, action="test.action")
    client.force_login(superuser)
    assert client.get(reverse("admin:audit_auditevent_changelist") + "?action=test.action").status_code == 200
    assert client.get(reverse("admin:audit_auditevent_add")).status_code == 403
    assert client.post(reverse("admin:audit_auditevent_delete", args=[event.pk]), {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()
