"""Failed authentications: readable 401s with stable codes, throttled per client IP; refresh
tokens rotate and are single-use; the caller throttle counts in the shared cache."""

import uuid
from datetime import timedelta

import pytest
from django.core.cache.backends.locmem import LocMemCache
from django.test import override_settings
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts.tokens import EndUserToken, end_user_token_mint
from tests.factories import ClientStaffFactory
from tests.fixtures import ledger_snapshot

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"  # noqa: S105 - the factories' test password


def _locmem() -> dict:
    return {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid.uuid4().hex}}


def _bearer(token) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def _assert_401(response, code: str):
    assert response.status_code == 401, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code
    assert "ErrorDetail" not in body["detail"] and "{" not in body["detail"]


def test_an_expired_end_user_token_says_token_expired(api, tenant):
    token = end_user_token_mint(user=tenant.user)
    token.set_exp(lifetime=timedelta(seconds=-1))
    _assert_401(api.get("/api/v1/accounts/", **_bearer(token)), "token_expired")


def test_an_expired_staff_access_token_says_token_expired(api, tenant):
    token = AccessToken.for_user(ClientStaffFactory(client=tenant.client))
    token.set_exp(lifetime=timedelta(seconds=-1))
    _assert_401(api.get("/api/v1/users/", **_bearer(token)), "token_expired")


@pytest.mark.parametrize("raw", ["garbage", "a.b.c", "x" * 5000])
def test_a_malformed_bearer_token_says_token_invalid(api, tenant, raw):
    _assert_401(api.get("/api/v1/users/", **_bearer(raw)), "token_invalid")


def test_a_refresh_token_is_not_an_access_token(api, tenant):
    refresh = RefreshToken.for_user(ClientStaffFactory(client=tenant.client))
    _assert_401(api.get("/api/v1/users/", **_bearer(refresh)), "token_invalid")


@pytest.mark.parametrize(
    ("user_id", "client_id"),
    [([1], 1), ({"a": 1}, 1), ("1 OR 1=1", 1), (1.5, 1), (True, 1), (None, 1), (10**30, 1), ("\u0000", 1)],
)
def test_an_end_user_token_with_claims_of_the_wrong_type_is_401(api, tenant, user_id, client_id):
    token = EndUserToken()
    token["user_id"], token["client_id"] = user_id, client_id
    before = ledger_snapshot()
    body = {"from_account": tenant.usd.pk, "to_account": tenant.peer_usd.pk, "amount": "1.00"}
    response = api.post("/api/v1/transfers/", body, format="json", **_bearer(token))
    _assert_401(response, "token_invalid")
    assert ledger_snapshot() == before


def test_a_staff_token_with_a_user_id_of_the_wrong_type_is_401(api, tenant):
    token = AccessToken()
    token["user_id"] = ["1"]
    _assert_401(api.get("/api/v1/users/", **_bearer(token)), "token_invalid")


def test_refresh_tokens_rotate_and_the_old_one_is_single_use(api, tenant):
    staff = ClientStaffFactory(client=tenant.client)
    tokens = api.post("/api/v1/auth/token/", {"username": staff.username, "password": PASSWORD},
                      format="json").json()

    first = api.post("/api/v1/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json")
    replay = api.post("/api/v1/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json")
    second = api.post("/api/v1/auth/token/refresh/", {"refresh": first.json()["refresh"]}, format="json")

    assert first.status_code == 200 and first.json()["refresh"] != tokens["refresh"]
    _assert_401(replay, "token_invalid")
    assert second.status_code == 200


def test_an_expired_refresh_token_says_token_expired(api, tenant):
    refresh = RefreshToken.for_user(ClientStaffFactory(client=tenant.client))
    refresh.set_exp(lifetime=timedelta(seconds=-1))
    _assert_401(api.post("/api/v1/auth/token/refresh/", {"refresh": str(refresh)}, format="json"), "token_expired")


@override_settings(AUTH_FAILURE_RATE="3/min")
def test_failed_authentications_are_throttled_per_ip_without_a_lookup(api, tenant, django_assert_num_queries):
    with override_settings(CACHES=_locmem()):
        bad = {"HTTP_AUTHORIZATION": "Api-Key 0123456789ab.wrong-secret"}
        statuses = [api.get("/api/v1/users/", **bad).status_code for _ in range(3)]
        with django_assert_num_queries(0):
            throttled = api.get("/api/v1/users/", **bad)
        other_ip = api.get("/api/v1/users/", REMOTE_ADDR="10.9.8.7", **bad)

    assert statuses == [401, 401, 401]
    assert throttled.status_code == 429
    assert throttled["Content-Type"] == "application/problem+json"
    assert throttled.json()["code"] == "throttled"
    assert int(throttled["Retry-After"]) >= 1
    assert other_ip.status_code == 401


@override_settings(AUTH_FAILURE_RATE="2/min")
def test_bad_passwords_and_bad_tokens_count_too(api, tenant):
    staff = ClientStaffFactory(client=tenant.client)
    with override_settings(CACHES=_locmem()):
        wrong = [
            api.post("/api/v1/auth/token/", {"username": staff.username, "password": "nope"}, format="json")
            for _ in range(2)
        ]
        # Even the right password is not checked once the address is over its limit.
        right = api.post("/api/v1/auth/token/", {"username": staff.username, "password": PASSWORD}, format="json")
        token = api.get("/api/v1/users/", **_bearer("garbage"))
    assert [response.status_code for response in wrong] == [401, 401]
    assert right.status_code == 429 and token.status_code == 429


def test_the_caller_throttle_works_on_the_database_cache(api, tenant, settings):
    # The default cache (the database table) counts across processes like Redis would.
    assert settings.CACHES["default"]["BACKEND"].endswith("DatabaseCache")
    rest_framework = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"caller": "2/min"}}
    with override_settings(REST_FRAMEWORK=rest_framework):
        statuses = [api.get("/api/v1/users/", **tenant.auth).status_code for _ in range(3)]
    assert statuses[:2] == [200, 200] and statuses[2] == 429


class CountingCache(LocMemCache):
    """Records the key of every operation (throttle buckets are what this file counts)."""

    operations: list = []

    def _record(self, name, key):
        self.operations.append((name, key))

    def get(self, key, *args, **kwargs):
        self._record("get", key)
        return super().get(key, *args, **kwargs)

    def set(self, key, *args, **kwargs):
        self._record("set", key)
        return super().set(key, *args, **kwargs)

    def add(self, key, *args, **kwargs):
        self._record("add", key)
        return super().add(key, *args, **kwargs)

    def incr(self, key, *args, **kwargs):
        self._record("incr", key)
        return super().incr(key, *args, **kwargs)


def test_the_caller_throttle_costs_one_cache_increment_per_request(api, tenant, settings):
    rest_framework = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"caller": "100/min"}}
    caches = {"default": {"BACKEND": f"{__name__}.CountingCache", "LOCATION": uuid.uuid4().hex}}
    with override_settings(REST_FRAMEWORK=rest_framework, CACHES=caches):
        api.get("/api/v1/users/", **tenant.auth)  # the window's first request creates the bucket
        CountingCache.operations.clear()
        api.get("/api/v1/users/", **tenant.auth)
    throttle_operations = [name for name, key in CountingCache.operations if key.startswith("throttle:")]
    assert throttle_operations == ["incr"]
    # and the key resolution came from this process's copy of the cached record: no cache operation
    assert [name for name, key in CountingCache.operations if key.startswith("auth:")] == []


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_refresh_token_raced_from_four_threads_is_accepted_once(requires_postgres):
    import threading

    from django.db import connection
    from rest_framework.test import APIClient

    from tests.factories import ClientFactory

    staff = ClientStaffFactory(client=ClientFactory())
    refresh = str(RefreshToken.for_user(staff))
    barrier = threading.Barrier(4)
    statuses = []

    def run():
        try:
            barrier.wait()
            response = APIClient().post("/api/v1/auth/token/refresh/", {"refresh": refresh}, format="json")
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 401, 401, 401]
