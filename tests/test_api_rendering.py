"""The orjson renderer writes the bytes DRF's JSONRenderer would, so clients see no difference."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from rest_framework.renderers import JSONRenderer

from core.api.renderers import FastJSONRenderer
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
