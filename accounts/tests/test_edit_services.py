"""Whole-object edits (admin's forms) save and audit in the service, in one transaction."""

import pytest
from django.urls import reverse

from accounts.models import User
from accounts.services import client_edit, user_edit
from audit.models import AuditEvent


def test_a_client_edit_saves_and_writes_one_event_with_before_and_after(client_tenant, operations_user):
    # given
    client_tenant.fee_bps = 75
    # when
    client_edit(client=client_tenant, actor=operations_user, created=False, changes={"fee_bps": (50, 75)},
                save=client_tenant.save)
    # then
    client_tenant.refresh_from_db()
    assert client_tenant.fee_bps == 75
    event = AuditEvent.objects.get()
    assert (event.action, event.before, event.after) == ("accounts.client_change", {"fee_bps": 50}, {"fee_bps": 75})


def test_an_edit_without_changes_saves_and_audits_nothing(client_tenant, operations_user):
    client_edit(client=client_tenant, actor=operations_user, created=False, changes={}, save=client_tenant.save)
    assert not AuditEvent.objects.exists()


def test_an_edit_whose_save_fails_leaves_no_event(client_tenant, operations_user):
    def failing_save():
        client_tenant.save()
        raise RuntimeError("the database refused it")

    with pytest.raises(RuntimeError):
        client_edit(client=client_tenant, actor=operations_user, created=False, changes={"fee_bps": (50, 75)},
                    save=failing_save)
    assert not AuditEvent.objects.exists()


def test_passwords_are_saved_but_never_audited(alice, operations_user):
    user_edit(user=alice, actor=operations_user, created=False,
              changes={"password": ("old", "new"), "email": ("a@example.com", "b@example.com")}, save=alice.save)
    event = AuditEvent.objects.get()
    assert event.before == {"email": "a@example.com"} and event.after == {"email": "b@example.com"}


def test_a_user_edited_in_admin_is_audited_by_the_service(client, superuser, alice):
    client.force_login(superuser)
    page = client.get(reverse("admin:accounts_user_change", args=[alice.pk]))
    form = page.context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and name != "password"}
    data.update({"email": "renamed@example.com", "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00",
                 "groups": [], "user_permissions": []})
    for inline in page.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        data.update({f"{management.prefix}-{name}": value for name, value in management.initial.items()})
    response = client.post(reverse("admin:accounts_user_change", args=[alice.pk]), data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    assert User.objects.get(pk=alice.pk).email == "renamed@example.com"
    event = AuditEvent.objects.get(action="accounts.user_change")
    assert event.after["email"] == "renamed@example.com" and "password" not in event.after
