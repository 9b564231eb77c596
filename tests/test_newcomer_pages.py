"""What a newcomer reaches first: `/`, and the page behind every error's `type`."""

import pytest

from core.api.problems import problem_catalogue
from core.errors import DomainError
from ledger.errors import InsufficientFundsError
from ledger.services import hold_create

pytestmark = pytest.mark.django_db


def test_the_root_is_a_landing_page_with_the_links_a_newcomer_needs(client):
    response = client.get("/")
    assert response.status_code == 200
    for link in ("/api/v1/", "/api/v1/docs/", "/api/v1/schema/", "/api/v1/problems/", "/admin/"):
        assert f'href="{link}"' in response.content.decode()


def test_an_error_type_points_at_a_page_on_this_host_that_describes_the_code(api, tenant, client):
    # given: an error response
    problem = api.post("/api/v1/transfers/", {"from_account": tenant.usd.pk, "to_account": tenant.peer_usd.pk,
                                              "amount": "1000000"}, format="json", **tenant.auth).json()
    assert problem["code"] == "insufficient_funds"
    # when the type is followed
    page = client.get(problem["type"])
    # then it describes that code
    assert problem["type"] == "/api/v1/problems/insufficient_funds"
    assert page.status_code == 200
    assert "insufficient_funds" in page.content.decode() and "422" in page.content.decode()


def test_every_domain_error_code_has_a_page_and_unknown_codes_do_not(client):
    def every(cls):
        for subclass in cls.__subclasses__():
            yield subclass
            yield from every(subclass)

    codes = set(problem_catalogue())
    assert {error.code for error in every(DomainError)} <= codes
    assert {"validation_error", "not_authenticated", "throttled", "idempotency_key_reused"} <= codes
    listing = client.get("/api/v1/problems/").content.decode()
    assert all(f'id="{code}"' in listing for code in codes)
    assert client.get("/api/v1/problems/no_such_code").status_code == 404


def test_error_messages_show_amounts_as_the_api_does_with_the_currency(api, tenant):
    # given: a user with 99.00 USD available; when far more is held
    with pytest.raises(InsufficientFundsError) as refused:
        hold_create(account=tenant.usd, amount=10_050_000, reason="test")
    # then the message says 100500.00 USD, not 10050000
    assert "100500.00 USD" in refused.value.detail
    assert "10050000" not in refused.value.detail


def test_no_request_schema_is_described_by_an_internal_helpers_docstring(client):
    schema = client.get("/api/v1/schema/?format=json").json()
    internal = ("AmountField", "currency_from", "minor units once")
    leaking = {
        name: component["description"]
        for name, component in schema["components"]["schemas"].items()
        if any(word in component.get("description", "") for word in internal)
    }
    assert leaking == {}
    assert schema["components"]["schemas"]["OrderCreateRequest"]["description"].startswith("An order:")
    assert schema["components"]["schemas"]["ConversionCreateRequest"]["description"].startswith("Convert `amount`")


def test_the_browsable_api_renders_code_spans_not_literal_backticks(client):
    page = client.get("/api/v1/", HTTP_ACCEPT="text/html").content.decode()
    description = page.split("<p>The endpoints of this API.", 1)[1].split("</p>", 1)[0]
    assert "<code>Authorization: Api-Key &lt;key&gt;</code>" in description
    assert "`" not in description
