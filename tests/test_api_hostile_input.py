"""Hostile input, table-driven: every POST with unstorable text, deep nesting and oversized
numbers; every list with tampered cursors. Always a 4xx problem+json, never a 5xx, nothing written."""

import json
from base64 import b64encode

import pytest
from django.test import override_settings

from broker.services import rate_update
from tests.fixtures import ledger_snapshot
from tests.test_api_cross_tenant import ENDPOINTS

pytestmark = pytest.mark.django_db

# Every endpoint that reads a body (cancelling an order takes none and never parses one).
# The client switches are platform staff's and refuse a client before reading the body.
WRITES = [
    endpoint for endpoint in ENDPOINTS
    if endpoint.body is not None and endpoint.id != "orders-cancel" and not endpoint.id.startswith("clients-")
]
ID_LISTS = [
    "/api/v1/users/", "/api/v1/accounts/", "/api/v1/transfers/", "/api/v1/transactions/",
    "/api/v1/pending-withdrawals/", "/api/v1/rates/BTC/history/", "/api/v1/quotes/", "/api/v1/orders/",
    "/api/v1/conversions/", "/api/v1/accounts/{usd}/transactions/",
]
# Keyed by currency code: "p=abc" is a legitimate position there.
CODE_LISTS = ["/api/v1/currencies/", "/api/v1/rates/", "/api/v1/users/{user}/currencies/"]
LISTS = ID_LISTS + CODE_LISTS
UNSTORABLE = ["\u0000", "BTC\u0000", "\ud800", "x\udfffy"]


def _post(api, tenant, endpoint, raw: str):
    method = getattr(api, endpoint.method.lower())
    return method(endpoint.path(tenant), raw, content_type="application/json", **tenant.auth)


def _assert_clean_4xx(response, before, status=400):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"]
    assert ledger_snapshot() == before


@pytest.mark.parametrize("endpoint", WRITES, ids=lambda e: e.id)
@pytest.mark.parametrize("text", UNSTORABLE, ids=["nul", "code-nul", "surrogate", "inner-surrogate"])
def test_unstorable_text_in_any_field_is_400_naming_the_field(api, tenant, endpoint, text):
    body = endpoint.body(tenant)
    for field in [*body, "metadata"]:
        before = ledger_snapshot()
        hostile = {**body, field: text} if field != "metadata" else {**body, "metadata": {text: text}}
        response = _post(api, tenant, endpoint, json.dumps(hostile))
        _assert_clean_4xx(response, before)
        assert field in response.json()["errors"], (field, response.content)


@pytest.mark.parametrize("endpoint", WRITES, ids=lambda e: e.id)
def test_deeply_nested_json_is_400(api, tenant, endpoint):
    before = ledger_snapshot()
    for depth in (40, 5_000, 100_000):
        response = _post(api, tenant, endpoint, "[" * depth + "]" * depth)
        _assert_clean_4xx(response, before)
        assert response.json()["code"] == "malformed_request"
    nested = json.dumps({**endpoint.body(tenant), "metadata": {"a": {"b": {"c": 1}}}})
    nested = nested.replace('{"c": 1}', "[" * 2000 + "]" * 2000)
    _assert_clean_4xx(_post(api, tenant, endpoint, nested), before)


@pytest.mark.parametrize("endpoint", WRITES, ids=lambda e: e.id)
@pytest.mark.parametrize("number", ["1" * 5000, "9" * 30, "1e999999999", "-0.0", "0." + "9" * 70])
def test_huge_or_long_numbers_in_any_field_are_4xx(api, tenant, endpoint, number):
    body = endpoint.body(tenant)
    for field in body:
        before = ledger_snapshot()
        raw = json.dumps({**body, field: "__n__"}).replace('"__n__"', number)
        response = _post(api, tenant, endpoint, raw)
        # A text field may take a number as its text; anything refused is a clean 4xx.
        assert response.status_code < 500, (field, response.content)
        if response.status_code >= 400:
            assert response["Content-Type"] == "application/problem+json"
            assert ledger_snapshot() == before


TAMPERED = [b"p=%00", b"p=\x00", b"p=-1", b"p=B%20TC", b"o=-1", b"o=99999999999", b"r=2", b"p=" + b"9" * 40,
            b"p=1&o=x", b"\xff\xfe"]


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("cursor", TAMPERED, ids=lambda c: c.decode("latin-1"))
def test_tampered_cursors_are_400_invalid_cursor_on_every_list(api, tenant, path, cursor):
    path = path.format(user=tenant.user.pk, usd=tenant.usd.pk)
    response = api.get(path, {"cursor": b64encode(cursor).decode()}, **tenant.auth)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_cursor"


@pytest.mark.parametrize("path", ID_LISTS)
@pytest.mark.parametrize("cursor", [b"p=abc", b"p=1e5", b"p=1.5", b"p= 1"], ids=lambda c: c.decode())
def test_a_non_numeric_position_on_an_id_list_is_400_invalid_cursor(api, tenant, path, cursor):
    path = path.format(user=tenant.user.pk, usd=tenant.usd.pk)
    response = api.get(path, {"cursor": b64encode(cursor).decode()}, **tenant.auth)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_cursor"


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("cursor", ["garbage", "%%%", "\u00e9t\u00e9", "a" * 2000])
def test_undecodable_cursors_are_400_invalid_cursor(api, tenant, path, cursor):
    path = path.format(user=tenant.user.pk, usd=tenant.usd.pk)
    response = api.get(path, {"cursor": cursor}, **tenant.auth)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_cursor"


@pytest.mark.parametrize("path", LISTS)
def test_a_real_cursor_still_pages(api, tenant, path):
    path = path.format(user=tenant.user.pk, usd=tenant.usd.pk)
    first = api.get(path, {"page_size": 1}, **tenant.auth)
    assert first.status_code == 200, first.content
    if first.json().get("next"):
        assert api.get(first.json()["next"], **tenant.auth).status_code == 200


@pytest.mark.parametrize(
    "query", ["?currency=BTC%00", "?currency=%00", "?user=1%00", "?status=%00", "?x%00=1", "?cursor=%00"]
)
@pytest.mark.parametrize("path", ["/api/v1/accounts/", "/api/v1/orders/", "/api/v1/transactions/"])
def test_nul_in_a_query_parameter_is_400_naming_it(api, tenant, path, query):
    response = api.get(path + query, **tenant.auth)
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"]


def test_nul_in_a_url_route_is_400(api, tenant):
    before = ledger_snapshot()
    response = api.delete(f"/api/v1/users/{tenant.user.pk}/currencies/BTC%00/", **tenant.auth)
    _assert_clean_4xx(response, before)
    assert "path" in response.json()["errors"]


@pytest.mark.parametrize("code", ["B-TC", "BTCBTCBTCBTCBTC", "%C3%A9th", "B"])
def test_a_route_code_outside_the_currency_pattern_is_404(api, tenant, code):
    before = ledger_snapshot()
    response = api.delete(f"/api/v1/users/{tenant.user.pk}/currencies/{code}/", **tenant.auth)
    _assert_clean_4xx(response, before, status=404)


@pytest.mark.parametrize("text", UNSTORABLE)
def test_unstorable_text_in_a_client_switch_reason_is_400(api, tenant, text):
    from django.contrib.auth.models import Group

    from accounts.roles import OPERATIONS
    from tests.factories import PlatformStaffFactory

    staff = PlatformStaffFactory()
    staff.groups.add(Group.objects.get(name=OPERATIONS))
    api.force_login(staff)
    response = api.post(f"/api/v1/clients/{tenant.client.pk}/deactivate/", json.dumps({"reason": text}),
                        content_type="application/json")
    assert response.status_code == 400, response.content
    assert "reason" in response.json()["errors"]
    tenant.client.refresh_from_db()
    assert tenant.client.is_active


# --- Amounts: never rounded, schema and parser agree


def test_a_json_number_with_seventy_nines_is_refused_not_rounded(api, tenant):
    before = ledger_snapshot()
    raw = f'{{"account": {tenant.usd.pk}, "amount": 0.{"9" * 70}}}'
    response = api.post("/api/v1/deposits/", raw, content_type="application/json", **tenant.auth)
    _assert_clean_4xx(response, before)
    assert response.json()["code"] == "invalid_amount"


@pytest.mark.parametrize("amount", ["0." + "9" * 70, "1." + "0" * 70 + "1", " 1.00 ", "+1", "1.", ".5", "1e2", "١"])
def test_amount_strings_outside_the_published_pattern_are_invalid_amount(api, tenant, amount):
    before = ledger_snapshot()
    response = api.post("/api/v1/deposits/", {"account": tenant.usd.pk, "amount": amount}, format="json",
                        **tenant.auth)
    _assert_clean_4xx(response, before)
    assert response.json()["code"] == "invalid_amount"


def test_trailing_zeros_beyond_the_scale_are_exact_and_accepted(api, tenant):
    raw = f'{{"account": {tenant.usd.pk}, "amount": 1.{"0" * 70}}}'
    response = api.post("/api/v1/deposits/", raw, content_type="application/json", **tenant.auth)
    assert response.status_code == 201 and response.json()["amount"] == "1.00"


def test_the_schema_publishes_the_pattern_the_parser_enforces(api):
    from ledger.money import AMOUNT_PATTERN

    schema = api.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    text = json.dumps(schema)
    assert json.dumps(AMOUNT_PATTERN) in text


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/quotes/", lambda t: {"user": t.user.pk, "side": "buy", "currency": "DOGE",
                                       "usd_amount": "1000000000000.00"}),
        ("/api/v1/orders/", lambda t: {"user": t.user.pk, "side": "buy", "currency": "DOGE",
                                       "usd_amount": "1000000000000.00"}),
        ("/api/v1/conversions/", lambda t: {"user": t.user.pk, "from_currency": "BTC", "to_currency": "DOGE",
                                            "amount": "1.00000000"}),
    ],
)
def test_figures_that_overflow_64_bits_are_invalid_amount(api, tenant, path, body):
    from ledger.models import Currency
    from tests.factories import open_account

    # A coin worth one hundred-millionth of a dollar: a trillion dollars of it is 10^28 units.
    rate_update(currency="DOGE", price_e8=1)
    rate_update(currency="BTC", price_e8=10**17)
    open_account(tenant.user, "DOGE")
    assert Currency.objects.get(code="DOGE").scale == 8
    before = ledger_snapshot()
    response = api.post(path, body(tenant), format="json", **tenant.auth)
    _assert_clean_4xx(response, before)
    assert response.json()["code"] == "invalid_amount"


# --- Django's own errors


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_a_body_over_the_upload_limit_is_413_request_too_large(api, tenant):
    before = ledger_snapshot()
    raw = json.dumps({"account": tenant.usd.pk, "amount": "1.00", "reference": "r" * 2000})
    response = api.post("/api/v1/deposits/", raw, content_type="application/json", **tenant.auth)
    _assert_clean_4xx(response, before, status=413)
    assert response.json()["code"] == "request_too_large"


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_a_form_over_the_upload_limit_is_413_too(client, db):
    response = client.post("/admin/login/", {"username": "x" * 3000, "password": "y"})
    assert response.status_code == 413
    assert response["Content-Type"] == "application/problem+json"


def test_a_csrf_failure_is_problem_json(db):
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post("/admin/login/", {"username": "a", "password": "b"})
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "csrf_failed"


def test_an_unexpected_error_is_a_problem_json_500(tenant, monkeypatch):
    from rest_framework.test import APIClient

    def boom(*args, **kwargs):
        raise RuntimeError("internal detail 4242")

    monkeypatch.setattr("accounts.api.views.user_list", boom)
    api = APIClient(raise_request_exception=False)
    response = api.get("/api/v1/users/", **tenant.auth)
    assert response.status_code == 500
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "server_error" and "4242" not in response.content.decode()


def test_django_400_and_404_outside_the_api_are_problem_json_for_api_clients(client, db):
    response = client.get("/no-such-page/", HTTP_ACCEPT="application/json")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    bad_host = client.get("/api/v1/", HTTP_HOST="evil.example.invalid")
    assert bad_host.status_code == 400
    assert bad_host["Content-Type"] == "application/problem+json"


def test_deep_nesting_is_refused_before_parsing_whatever_the_recursion_limit(api, tenant):
    # given a process whose recursion limit a library raised (py-evm sets it on import), so the C
    # JSON parser would recurse past the C stack on 100,000 levels
    import sys

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 200_000))
    try:
        body = '{"external_id": "deep", "metadata": ' + "[" * 100_000 + "]" * 100_000 + "}"
        # when
        response = api.post("/api/v1/users/", body, content_type="application/json", **tenant.auth)
    finally:
        sys.setrecursionlimit(limit)
    # then: a clean 400, nothing written
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
    assert not tenant.client.users.filter(external_id="deep").exists()


def test_brackets_inside_strings_do_not_count_as_nesting(api, tenant):
    body = json.dumps({"external_id": "brackets", "name": "[" * 100 + "{" * 100})
    response = api.post("/api/v1/users/", body, content_type="application/json", **tenant.auth)
    assert response.status_code == 201, response.content
