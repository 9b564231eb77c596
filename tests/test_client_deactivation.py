"""A deactivated client's every credential is refused (401 `client_inactive`) and moves nothing;
reactivation restores them all. Platform staff switch clients through one audited service, from
the API or admin."""

import time

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.test import override_settings

from accounts.models import Client
from accounts.roles import OPERATIONS
from accounts.services import client_deactivate, client_reactivate
from audit.models import AuditEvent
from tests.factories import ClientStaffFactory, PlatformStaffFactory
from tests.fixtures import end_user_auth, ledger_snapshot

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"  # noqa: S105 - the factories' test password


def _staff_tokens(api, staff) -> dict:
    response = api.post("/api/v1/auth/token/", {"username": staff.username, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def _assert_refused(response):
    assert response.status_code == 401, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "client_inactive"


def _deposit(api, tenant, **auth):
    return api.post("/api/v1/deposits/", {"account": tenant.usd.pk, "amount": "5.00"}, format="json", **auth)


def _transfer(api, tenant, **auth):
    body = {"from_account": tenant.usd.pk, "to_account": tenant.peer_usd.pk, "amount": "1.00"}
    return api.post("/api/v1/transfers/", body, format="json", **auth)


def test_api_key_of_a_deactivated_client_is_refused_and_moves_nothing(api, tenant):
    client_deactivate(client=tenant.client, actor=None, reason="contract ended")
    before = ledger_snapshot()

    _assert_refused(_deposit(api, tenant, **tenant.auth))
    assert ledger_snapshot() == before


def test_end_user_token_of_a_deactivated_client_is_refused_and_moves_nothing(api, tenant):
    auth = end_user_auth(tenant.user)  # minted while the client was active
    assert api.get("/api/v1/accounts/", **auth).status_code == 200
    client_deactivate(client=tenant.client, actor=None, reason="contract ended")
    before = ledger_snapshot()

    _assert_refused(_transfer(api, tenant, **auth))
    _assert_refused(api.get("/api/v1/accounts/", **auth))
    assert ledger_snapshot() == before


def test_staff_jwt_of_a_deactivated_client_is_refused_and_mints_nothing(api, tenant):
    staff = ClientStaffFactory(client=tenant.client)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {_staff_tokens(api, staff)['access']}"}
    client_deactivate(client=tenant.client, actor=None, reason="contract ended")
    before = ledger_snapshot()

    _assert_refused(_deposit(api, tenant, **auth))
    _assert_refused(api.post(f"/api/v1/users/{tenant.user.pk}/tokens/", {}, format="json", **auth))
    assert ledger_snapshot() == before


def test_staff_of_a_deactivated_client_cannot_log_in_or_refresh(api, tenant):
    staff = ClientStaffFactory(client=tenant.client)
    tokens = _staff_tokens(api, staff)
    client_deactivate(client=tenant.client, actor=None, reason="contract ended")

    login = api.post("/api/v1/auth/token/", {"username": staff.username, "password": PASSWORD}, format="json")
    refresh = api.post("/api/v1/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json")

    for response in (login, refresh):
        assert response.status_code == 401, response.content
        assert response["Content-Type"] == "application/problem+json"
        assert "access" not in response.json()


def test_session_of_a_deactivated_clients_staff_is_refused_and_moves_nothing(api, tenant):
    api.force_login(ClientStaffFactory(client=tenant.client))
    assert api.get("/api/v1/users/").status_code == 200
    client_deactivate(client=tenant.client, actor=None, reason="contract ended")
    before = ledger_snapshot()

    _assert_refused(api.get("/api/v1/users/"))
    _assert_refused(_deposit(api, tenant))
    assert ledger_snapshot() == before


def test_reactivation_restores_every_credential_nothing_was_revoked(api, tenant):
    staff = ClientStaffFactory(client=tenant.client)
    tokens = _staff_tokens(api, staff)
    user_auth = end_user_auth(tenant.user)
    client_deactivate(client=tenant.client, actor=None, reason="unpaid invoice")
    _assert_refused(_deposit(api, tenant, **tenant.auth))

    client_reactivate(client=tenant.client, actor=None, reason="paid")

    assert _deposit(api, tenant, **tenant.auth).status_code == 201
    assert _transfer(api, tenant, **user_auth).status_code == 201
    assert api.get("/api/v1/users/", HTTP_AUTHORIZATION=f"Bearer {tokens['access']}").status_code == 200
    assert api.post("/api/v1/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json").status_code == 200


def test_deactivation_is_audited_with_its_reason_once(tenant):
    actor = PlatformStaffFactory()
    client_deactivate(client=tenant.client, actor=actor, reason="contract ended")
    client_deactivate(client=tenant.client, actor=actor, reason="again")  # no change, no event
    client_reactivate(client=tenant.client, actor=actor, reason="renewed")

    events = AuditEvent.objects.filter(
        client_id=tenant.client.pk, action__in=["accounts.client_deactivate", "accounts.client_reactivate"]
    ).order_by("pk")
    assert [(event.action, event.after) for event in events] == [
        ("accounts.client_deactivate", {"is_active": False, "reason": "contract ended"}),
        ("accounts.client_reactivate", {"is_active": True, "reason": "renewed"}),
    ]


@override_settings(
    AUTH_CACHE_SECONDS=5,
    CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "auth-bound"}},
)
def test_a_change_made_behind_the_services_back_is_seen_within_the_cache_bound(api, tenant, monkeypatch):
    # Given the key's resolution cached by an earlier request
    cache.clear()
    assert api.get("/api/v1/users/", **tenant.auth).status_code == 200
    # When the client is switched off without the service (so nothing clears the cache)
    Client.objects.filter(pk=tenant.client.pk).update(is_active=False)
    # Then the cached answer may serve until AUTH_CACHE_SECONDS have passed, and no longer
    assert api.get("/api/v1/users/", **tenant.auth).status_code == 200
    later = time.time() + 5.5
    monkeypatch.setattr("django.core.cache.backends.locmem.time.time", lambda: later)
    _assert_refused(api.get("/api/v1/users/", **tenant.auth))


@override_settings(
    AUTH_CACHE_SECONDS=5,
    CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "auth-elsewhere"}},
)
def test_a_change_made_in_another_process_is_seen_here_within_the_cache_bound(api, tenant, monkeypatch):
    # Given the key's record read by this process (its own copy, and the shared entry)
    cache.clear()
    assert api.get("/api/v1/users/", **tenant.auth).status_code == 200
    # When another process deactivates the client: the database and the shared cache change, not
    # this process's copy
    Client.objects.filter(pk=tenant.client.pk).update(is_active=False)
    cache.clear()
    # Then this process may serve its copy until AUTH_CACHE_SECONDS after it was read, no longer
    assert api.get("/api/v1/users/", **tenant.auth).status_code == 200
    later = time.time() + 5.5
    monkeypatch.setattr("accounts.credentials.time.time", lambda: later)
    _assert_refused(api.get("/api/v1/users/", **tenant.auth))


@override_settings(
    AUTH_CACHE_SECONDS=5,
    CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "auth-skew"}},
)
def test_a_record_read_by_a_machine_whose_clock_runs_ahead_is_kept_no_longer_here(api, tenant, monkeypatch):
    # Given the key's record in the shared cache, read from the database by a machine an hour ahead
    from accounts import credentials

    cache.clear()
    prefix = tenant.plaintext_key.split(".")[0]
    now = time.time()
    monkeypatch.setattr("accounts.credentials.time.time", lambda: now + 3600)
    credentials.api_key_record_load(prefix=prefix)
    credentials._local.clear()  # this process has not read it yet
    monkeypatch.setattr("accounts.credentials.time.time", lambda: now)
    assert api.get("/api/v1/users/", **tenant.auth).status_code == 200  # taken from the shared cache
    # When the client is switched off behind the services' back and the shared entry is gone
    Client.objects.filter(pk=tenant.client.pk).update(is_active=False)
    cache.clear()
    # Then this process's copy serves no longer than AUTH_CACHE_SECONDS after it took it
    monkeypatch.setattr("accounts.credentials.time.time", lambda: now + 5.5)
    _assert_refused(api.get("/api/v1/users/", **tenant.auth))


@override_settings(
    CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "auth-now"}},
)
def test_the_services_clear_the_cache_so_the_change_is_immediate(api, tenant):
    cache.clear()
    assert api.get("/api/v1/users/", **tenant.auth).status_code == 200
    client_deactivate(client=tenant.client, actor=None, reason="now")
    _assert_refused(api.get("/api/v1/users/", **tenant.auth))
    client_reactivate(client=tenant.client, actor=None, reason="back")
    assert api.get("/api/v1/users/", **tenant.auth).status_code == 200


@override_settings(
    CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "auth-revoke"}},
)
def test_revoking_a_cached_key_takes_effect_on_the_next_request(api, tenant, django_capture_on_commit_callbacks):
    from accounts.services import api_key_revoke

    cache.clear()
    assert api.get("/api/v1/users/", **tenant.auth).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        api_key_revoke(key=tenant.api_key)
    assert api.get("/api/v1/users/", **tenant.auth).status_code == 401


# --- The platform staff endpoint


def _operations_auth(api) -> dict:
    staff = PlatformStaffFactory()
    staff.groups.add(Group.objects.get(name=OPERATIONS))
    return {"HTTP_AUTHORIZATION": f"Bearer {_staff_tokens(api, staff)['access']}"}


def test_operations_staff_deactivate_and_reactivate_a_client_through_the_api(api, tenant):
    auth = _operations_auth(api)

    response = api.post(f"/api/v1/clients/{tenant.client.pk}/deactivate/", {"reason": "fraud"}, format="json",
                        **auth)
    assert response.status_code == 200, response.content
    assert response.json()["is_active"] is False
    _assert_refused(api.get("/api/v1/users/", **tenant.auth))

    response = api.post(f"/api/v1/clients/{tenant.client.pk}/reactivate/", {"reason": "cleared"}, format="json",
                        **auth)
    assert response.json()["is_active"] is True
    assert api.get("/api/v1/users/", **tenant.auth).status_code == 200
    assert AuditEvent.objects.filter(client_id=tenant.client.pk, action="accounts.client_deactivate",
                                     after__reason="fraud").count() == 1


def test_deactivating_without_a_reason_is_400_and_changes_nothing(api, tenant):
    response = api.post(f"/api/v1/clients/{tenant.client.pk}/deactivate/", {}, format="json", **_operations_auth(api))
    assert response.status_code == 400
    assert "reason" in response.json()["errors"]
    assert Client.objects.get(pk=tenant.client.pk).is_active


def test_a_client_cannot_switch_itself_off_or_on(api, tenant):
    response = api.post(f"/api/v1/clients/{tenant.client.pk}/deactivate/", {"reason": "x"}, format="json",
                        **tenant.auth)
    assert response.status_code == 403
    assert Client.objects.get(pk=tenant.client.pk).is_active


def test_admin_action_deactivates_with_a_reason(client, tenant):
    admin_user = PlatformStaffFactory(is_superuser=True)
    client.force_login(admin_user)
    url = "/admin/accounts/client/"
    form = client.post(url, {"action": "deactivate_clients", "_selected_action": [tenant.client.pk]})
    assert form.status_code == 200 and b"reason" in form.content
    assert Client.objects.get(pk=tenant.client.pk).is_active  # nothing happens before the reason

    client.post(url, {"action": "deactivate_clients", "_selected_action": [tenant.client.pk], "apply": "1",
                      "reason": "regulator request"})

    assert not Client.objects.get(pk=tenant.client.pk).is_active
    assert AuditEvent.objects.get(action="accounts.client_deactivate").actor_id == admin_user.pk
