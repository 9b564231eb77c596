import pytest
from django.contrib.auth.models import Group

from accounts import roles
from accounts.models import User
from tests.factories import PlatformStaffFactory
from tests.fixtures import end_user_auth, ledger_snapshot

pytestmark = pytest.mark.django_db


def staff_auth(api, *, role: str) -> dict:
    staff = PlatformStaffFactory()
    staff.groups.add(Group.objects.get_or_create(name=role)[0])
    response = api.post(
        "/api/v1/auth/token/", {"username": staff.username, "password": "correct horse battery staple"}, format="json"
    )
    return {"HTTP_AUTHORIZATION": f"Bearer {response.json()['access']}"}


def test_create_user_returns_the_user_with_an_unusable_password(api, tenant):
    # when
    response = api.post(
        "/api/v1/users/", {"external_id": "cust-1", "email": "c@example.com", "name": "C"}, format="json", **tenant.auth
    )
    # then
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "external_id", "email", "name", "is_active", "created_at"}
    user = User.objects.get(pk=body["id"])
    assert (user.client_id, user.kind, user.external_id, user.is_active) == (
        tenant.client.pk, User.Kind.END_USER, "cust-1", True
    )
    assert not user.has_usable_password()
    assert user.username.startswith("user-")


def test_duplicate_external_id_within_a_client_is_409_and_creates_nothing(api, tenant):
    # given
    count = User.objects.count()
    # when
    response = api.post("/api/v1/users/", {"external_id": tenant.user.external_id}, format="json", **tenant.auth)
    # then
    assert response.status_code == 409
    assert response.json()["code"] == "already_exists"
    assert User.objects.count() == count


def test_same_external_id_in_another_client_is_fine(api, tenant, other_tenant):
    response = api.post("/api/v1/users/", {"external_id": tenant.user.external_id}, format="json", **other_tenant.auth)
    assert response.status_code == 201


def test_list_users_filters_by_external_id_email_and_is_active(api, tenant):
    # given
    tenant.peer.is_active = False
    tenant.peer.save()
    # when
    by_external_id = api.get(f"/api/v1/users/?external_id={tenant.user.external_id}", **tenant.auth).json()
    by_email = api.get(f"/api/v1/users/?email={tenant.peer.email.upper()}", **tenant.auth).json()
    inactive = api.get("/api/v1/users/?is_active=false", **tenant.auth).json()
    # then
    assert [row["id"] for row in by_external_id["results"]] == [tenant.user.pk]
    assert [row["id"] for row in by_email["results"]] == [tenant.peer.pk]
    assert [row["id"] for row in inactive["results"]] == [tenant.peer.pk]


def test_patch_user_changes_its_details(api, tenant):
    response = api.patch(f"/api/v1/users/{tenant.user.pk}/", {"name": "New Name"}, format="json", **tenant.auth)
    assert response.status_code == 200
    assert response.json()["name"] == "New Name"
    tenant.user.refresh_from_db()
    assert tenant.user.name == "New Name"


def test_patch_to_a_taken_external_id_is_409(api, tenant):
    response = api.patch(
        f"/api/v1/users/{tenant.user.pk}/", {"external_id": tenant.peer.external_id}, format="json", **tenant.auth
    )
    assert response.status_code == 409
    tenant.user.refresh_from_db()
    assert tenant.user.external_id != tenant.peer.external_id


def test_delete_user_deactivates_it_keeps_history_and_stops_money(api, tenant):
    # when
    response = api.delete(f"/api/v1/users/{tenant.user.pk}/", **tenant.auth)
    # then
    assert response.status_code == 204
    tenant.user.refresh_from_db()
    assert tenant.user.is_active is False
    assert api.get(f"/api/v1/users/{tenant.user.pk}/", **tenant.auth).json()["is_active"] is False
    before = ledger_snapshot()
    deposit = api.post("/api/v1/deposits/", {"account": tenant.usd.pk, "amount": "1"}, format="json", **tenant.auth)
    assert deposit.status_code == 422
    assert deposit.json()["code"] == "inactive_account"
    assert ledger_snapshot() == before


def test_end_user_token_lets_the_user_read_itself_only(api, tenant):
    # given
    minted = api.post(f"/api/v1/users/{tenant.user.pk}/tokens/", {}, format="json", **tenant.auth)
    assert minted.status_code == 201
    auth = {"HTTP_AUTHORIZATION": f"Bearer {minted.json()['access']}"}
    # when
    listed = api.get("/api/v1/users/", **auth).json()
    # then
    assert [row["id"] for row in listed["results"]] == [tenant.user.pk]
    assert api.get(f"/api/v1/users/{tenant.user.pk}/", **auth).status_code == 200
    assert api.get(f"/api/v1/users/{tenant.peer.pk}/", **auth).status_code == 404


def test_end_user_token_lifetime_defaults_to_the_setting_and_can_be_shorter(api, tenant, settings):
    from datetime import datetime, timedelta

    settings.END_USER_TOKEN_MINUTES = 15
    default = api.post(f"/api/v1/users/{tenant.user.pk}/tokens/", {}, format="json", **tenant.auth).json()
    short = api.post(f"/api/v1/users/{tenant.user.pk}/tokens/", {"minutes": 2}, format="json", **tenant.auth).json()
    now = datetime.now().astimezone()
    default_left = datetime.fromisoformat(default["expires_at"]) - now
    short_left = datetime.fromisoformat(short["expires_at"]) - now
    assert timedelta(minutes=14) < default_left <= timedelta(minutes=15)
    assert timedelta(minutes=1) < short_left <= timedelta(minutes=2)


def test_a_deactivated_users_token_stops_working(api, tenant):
    auth = end_user_auth(tenant.user)
    api.delete(f"/api/v1/users/{tenant.user.pk}/", **tenant.auth)
    assert api.get(f"/api/v1/users/{tenant.user.pk}/", **auth).status_code == 401


def test_end_users_cannot_mint_tokens(api, tenant):
    response = api.post(f"/api/v1/users/{tenant.user.pk}/tokens/", {}, format="json", **end_user_auth(tenant.user))
    assert response.status_code == 403


def test_platform_staff_must_name_the_client_when_creating_a_user(api, tenant):
    auth = staff_auth(api, role=roles.OPERATIONS)
    missing = api.post("/api/v1/users/", {"external_id": "s-1"}, format="json", **auth)
    named = api.post("/api/v1/users/", {"external_id": "s-1", "client": tenant.client.pk}, format="json", **auth)
    assert missing.status_code == 400
    assert "client" in missing.json()["errors"]
    assert named.status_code == 201
    assert User.objects.get(pk=named.json()["id"]).client_id == tenant.client.pk


def test_platform_staff_see_every_client_and_narrow_with_client_param(api, tenant, other_tenant):
    auth = staff_auth(api, role=roles.READ_ONLY)
    everyone = {row["id"] for row in api.get("/api/v1/users/", **auth).json()["results"]}
    narrowed = {row["id"] for row in api.get(f"/api/v1/users/?client={tenant.client.pk}", **auth).json()["results"]}
    assert {tenant.user.pk, other_tenant.user.pk} <= everyone
    assert narrowed == {tenant.user.pk, tenant.peer.pk}
    narrowed_retrieve = api.get(f"/api/v1/users/{other_tenant.user.pk}/?client={tenant.client.pk}", **auth)
    assert narrowed_retrieve.status_code == 404


def test_read_only_staff_cannot_write(api, tenant):
    auth = staff_auth(api, role=roles.READ_ONLY)
    before = ledger_snapshot()
    response = api.post("/api/v1/deposits/", {"account": tenant.usd.pk, "amount": "1"}, format="json", **auth)
    assert response.status_code == 403
    assert ledger_snapshot() == before


def test_staff_without_any_role_cannot_read(api, tenant):
    staff = PlatformStaffFactory()
    token = api.post(
        "/api/v1/auth/token/", {"username": staff.username, "password": "correct horse battery staple"}, format="json"
    ).json()["access"]
    assert api.get("/api/v1/users/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 403
