"""Authentication schemes, throttling, the schema and the docs."""

import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from accounts.models import ApiKey
from accounts.services import api_key_create, api_key_revoke
from tests.factories import ClientStaffFactory, EndUserFactory

pytestmark = pytest.mark.django_db


def test_revoked_and_expired_keys_are_401(api, tenant):
    revoked_key, revoked = api_key_create(client=tenant.client)
    api_key_revoke(key=revoked_key)
    _, expired = api_key_create(client=tenant.client, expires_at=timezone.now() - timedelta(seconds=1))
    for plaintext in (revoked, expired, tenant.plaintext_key + "x", "not-a-key"):
        response = api.get("/api/v1/users/", HTTP_AUTHORIZATION=f"Api-Key {plaintext}")
        assert response.status_code == 401, plaintext
        assert response["WWW-Authenticate"] == "Api-Key"


def test_a_client_may_rotate_keys_and_last_used_at_is_recorded(api, tenant):
    _, second = api_key_create(client=tenant.client, name="rotation")
    assert api.get("/api/v1/users/", HTTP_AUTHORIZATION=f"Api-Key {second}").status_code == 200
    assert api.get("/api/v1/users/", **tenant.auth).status_code == 200
    tenant.api_key.refresh_from_db()
    assert tenant.api_key.last_used_at is not None


def test_jwt_obtain_and_refresh_for_client_staff_who_see_their_client_only(api, tenant, other_tenant):
    staff = ClientStaffFactory(client=tenant.client)
    tokens = api.post(
        "/api/v1/auth/token/", {"username": staff.username, "password": "correct horse battery staple"}, format="json"
    ).json()
    refreshed = api.post("/api/v1/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json")
    assert refreshed.status_code == 200
    auth = {"HTTP_AUTHORIZATION": f"Bearer {refreshed.json()['access']}"}
    ids = {row["id"] for row in api.get("/api/v1/users/", **auth).json()["results"]}
    assert ids == {tenant.user.pk, tenant.peer.pk}
    assert api.get(f"/api/v1/users/{other_tenant.user.pk}/", **auth).status_code == 404


def test_wrong_password_is_401_and_end_users_cannot_log_in(api, tenant):
    staff = ClientStaffFactory(client=tenant.client)
    wrong = api.post("/api/v1/auth/token/", {"username": staff.username, "password": "nope"}, format="json")
    end_user = api.post("/api/v1/auth/token/", {"username": tenant.user.username, "password": ""}, format="json")
    assert wrong.status_code == 401
    assert end_user.status_code in (400, 401)


def test_session_login_works_for_staff_in_the_browsable_api(api, tenant):
    staff = ClientStaffFactory(client=tenant.client)
    api.force_login(staff)
    response = api.get("/api/v1/users/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert tenant.user.external_id in response.content.decode()


def test_a_session_of_an_end_user_is_not_a_caller(api, tenant):
    api.force_login(EndUserFactory(client=tenant.client))
    assert api.get("/api/v1/users/").status_code == 401


def test_throttling_answers_429_with_retry_after(api, tenant, settings):
    rest_framework = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"caller": "2/min"}}
    caches = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid.uuid4().hex}}
    with override_settings(REST_FRAMEWORK=rest_framework, CACHES=caches):
        statuses = [api.get("/api/v1/users/", **tenant.auth).status_code for _ in range(3)]
        throttled = api.get("/api/v1/users/", **tenant.auth)
    assert statuses == [200, 200, 429]
    assert throttled.json()["code"] == "throttled"
    assert int(throttled["Retry-After"]) > 0


def test_throttle_buckets_are_per_key(api, tenant, other_tenant):
    rest_framework = {"DEFAULT_THROTTLE_RATES": {"caller": "1/min"}}
    caches = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid.uuid4().hex}}
    from django.conf import settings

    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, **rest_framework}, CACHES=caches):
        assert api.get("/api/v1/users/", **tenant.auth).status_code == 200
        assert api.get("/api/v1/users/", **other_tenant.auth).status_code == 200
        assert api.get("/api/v1/users/", **tenant.auth).status_code == 429


def test_schema_documents_every_endpoint_auth_scheme_and_the_problem_shape(api):
    response = api.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    schema = response.json()
    assert response.status_code == 200
    assert set(schema["components"]["securitySchemes"]) == {"ApiKey", "EndUserToken", "StaffJWT", "Session"}
    assert "Problem" in schema["components"]["schemas"]
    for path in ("/api/v1/users/", "/api/v1/accounts/biggest/", "/api/v1/transfers/{id}/reverse/",
                 "/api/v1/users/{id}/balances/", "/api/v1/users/{id}/tokens/", "/api/v1/transactions/"):
        assert path in schema["paths"], path
    deposit = schema["paths"]["/api/v1/deposits/"]["post"]
    assert "Idempotency-Key" in {parameter["name"] for parameter in deposit["parameters"]}
    assert "application/problem+json" in deposit["responses"]["422"]["content"]


def test_schema_generation_has_no_warnings():
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")


def test_swagger_ui_uses_local_static_assets_only(api):
    html = api.get("/api/v1/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn.jsdelivr.net" not in html and "unpkg.com" not in html


def test_api_root_lists_the_endpoints(api):
    response = api.get("/api/v1/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert {"users", "accounts", "deposits", "withdrawals", "transfers", "transactions"} <= set(response.json())


def test_api_keys_store_only_a_hash(tenant):
    key = ApiKey.objects.get(pk=tenant.api_key.pk)
    secret = tenant.plaintext_key.split(".", 1)[1]
    assert secret not in key.hashed_secret and len(key.hashed_secret) == 64
