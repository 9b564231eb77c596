"""Malformed input is a 400 with a code, never a 500, and writes nothing."""

import pytest

from accounts.models import User
from tests.fixtures import ledger_snapshot

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        ("-1", "invalid_amount"),
        ("0", "invalid_amount"),
        (0, "invalid_amount"),
        ("NaN", "invalid_amount"),
        ("Infinity", "invalid_amount"),
        ("1e400", "invalid_amount"),
        ("0.001", "invalid_amount"),  # USD keeps 2 places: more is an error, never a rounding
        ("99999999999999999999999", "invalid_amount"),
        (10**30, "invalid_amount"),
        ("", "invalid_amount"),
        ("1,00", "invalid_amount"),
        (True, "invalid_amount"),
        ([], "invalid_amount"),
        ({"value": 1}, "invalid_amount"),
        (None, "validation_error"),
    ],
)
def test_bad_amounts_are_400_and_change_nothing(api, tenant, amount, code):
    before = ledger_snapshot()
    response = api.post("/api/v1/deposits/", {"account": tenant.usd.pk, "amount": amount}, format="json", **tenant.auth)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code
    assert "amount" in response.json()["errors"]
    assert ledger_snapshot() == before


@pytest.mark.parametrize(
    "raw",
    [
        '{"account": 1, "amount": 1e400}',
        '{"account": 1, "amount": NaN}',
        '{"account": 1, "amount": 0.001}',
        '{"account": 1, "amount": -5}',
    ],
)
def test_bad_json_numbers_are_400_and_change_nothing(api, tenant, raw):
    before = ledger_snapshot()
    response = api.post(
        "/api/v1/deposits/", raw.replace('"account": 1', f'"account": {tenant.usd.pk}'),
        content_type="application/json", **tenant.auth,
    )
    assert response.status_code == 400
    assert response.json()["code"] in ("invalid_amount", "malformed_request")
    assert ledger_snapshot() == before


def test_a_json_number_with_exact_places_is_parsed_exactly(api, tenant):
    response = api.post(
        "/api/v1/deposits/", f'{{"account": {tenant.btc.pk}, "amount": 0.1}}', content_type="application/json",
        **tenant.auth,
    )
    assert response.status_code == 201
    assert response.json()["amount"] == "0.10000000"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/deposits/", lambda t: {}),
        ("/api/v1/deposits/", lambda t: {"account": "abc", "amount": "1"}),
        ("/api/v1/deposits/", lambda t: {"account": -1, "amount": "1"}),
        ("/api/v1/deposits/", lambda t: {"account": 1.5, "amount": "1"}),
        ("/api/v1/withdrawals/", lambda t: {"amount": "1"}),
        ("/api/v1/transfers/", lambda t: {"from_account": None, "to_account": t.peer_usd.pk, "amount": "1"}),
        ("/api/v1/transfers/", lambda t: {"from_account": [1], "to_account": t.peer_usd.pk, "amount": "1"}),
        ("/api/v1/deposits/", lambda t: {"account": t.usd.pk, "amount": "1", "metadata": ["not", "an", "object"]}),
        ("/api/v1/deposits/", lambda t: {"account": t.usd.pk, "amount": "1", "metadata": {"rate": 1.5}}),
        ("/api/v1/deposits/", lambda t: {"account": t.usd.pk, "amount": "1", "metadata": {"x": "\u0000"}}),
        ("/api/v1/deposits/", lambda t: {"account": t.usd.pk, "amount": "1", "reference": "r" * 201}),
        ("/api/v1/accounts/", lambda t: {"user": t.peer.pk}),
        ("/api/v1/accounts/", lambda t: {"user": t.peer.pk, "currency": 5}),
        ("/api/v1/users/", lambda t: {}),
        ("/api/v1/users/", lambda t: {"external_id": "", "email": "x@example.com"}),
        ("/api/v1/users/", lambda t: {"external_id": "e", "email": "not-an-email"}),
    ],
)
def test_wrong_types_and_missing_fields_are_400_with_a_code_and_change_nothing(api, tenant, path, body):
    before, users = ledger_snapshot(), User.objects.count()
    response = api.post(path, body(tenant), format="json", **tenant.auth)
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"]
    assert response.json()["errors"]
    assert (ledger_snapshot(), User.objects.count()) == (before, users)


@pytest.mark.parametrize("raw", ["{", "[1, 2]", "null", '"text"', "\u00ff"])
def test_unparseable_or_non_object_bodies_are_400(api, tenant, raw):
    before = ledger_snapshot()
    response = api.post("/api/v1/deposits/", raw, content_type="application/json", **tenant.auth)
    assert response.status_code == 400
    assert ledger_snapshot() == before


@pytest.mark.parametrize(
    "query",
    ["?user=abc", "?account=-1", "?kind=nope", "?created_after=yesterday", "?cursor=garbage"],
)
def test_bad_list_filters_are_4xx_never_500(api, tenant, query):
    response = api.get(f"/api/v1/transactions/{query}", **tenant.auth)
    assert response.status_code in (400, 404)
    assert response["Content-Type"] == "application/problem+json"


def test_unknown_and_huge_ids_are_404(api, tenant):
    assert api.get("/api/v1/accounts/99999999999999999999999/", **tenant.auth).status_code == 404
    assert api.get("/api/v1/accounts/abc/", **tenant.auth).status_code == 404
