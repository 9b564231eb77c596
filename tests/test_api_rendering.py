"""The orjson renderer writes the bytes DRF's JSONRenderer would, so clients see no difference; a
body it already wrote (a stored reply) is written again as it is, or re-rendered for a human."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from rest_framework.renderers import JSONRenderer

from core.api.renderers import FastJSONRenderer, RenderedJSON, rendered_json
from ledger.api.serializers import TransactionSerializer
from ledger.selectors import entry_for_rendering


@pytest.mark.django_db
def test_a_transaction_renders_byte_for_byte_as_drf_would(tenant):
    data = TransactionSerializer(entry_for_rendering(entry=tenant.transfer)).data
    assert FastJSONRenderer().render(data) == JSONRenderer().render(data)


def test_datetimes_decimals_and_unicode_render_as_drf_would():
    data = {"at": datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=UTC), "price": Decimal("1.50"), "name": "Zoë", "n": None}
    assert FastJSONRenderer().render(data) == JSONRenderer().render(data)


def test_errors_keyed_by_list_index_render_as_drf_would():
    # a list field's validation errors are keyed by the failing item's index (an int)
    data = {"code": "validation_error", "errors": {"event_types": {0: ["Not a valid choice."]}}}
    assert FastJSONRenderer().render(data) == JSONRenderer().render(data)


def test_a_body_already_rendered_is_written_as_it_is_and_reads_as_its_data():
    text = '{"id":7,"amount":"1.50","metadata":{"b":[1,null],"a":"\u20ac"}}'
    body = rendered_json(text)
    assert isinstance(body, RenderedJSON)
    assert body == {"id": 7, "amount": "1.50", "metadata": {"b": [1, None], "a": "€"}}
    assert FastJSONRenderer().render(body) == text.encode()
    # a human who asks for indentation gets the data indented, as for any other body
    indented = FastJSONRenderer().render(body, "application/json; indent=2")
    assert indented == JSONRenderer().render(dict(body), "application/json; indent=2") and b"\n  " in indented


def test_a_rendered_body_that_is_not_an_object_is_its_parsed_data():
    assert rendered_json("[1,2]") == [1, 2]
    assert rendered_json("null") is None
