"""Property-based run over the whole OpenAPI schema: no 5xx, and every response (status,
content type, body, headers) conforms to the schema. Authenticated with a real API key."""

import json

import pytest
import schemathesis
from django.core.serializers.json import DjangoJSONEncoder
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from config.wsgi import application
from tests.fixtures import make_tenant


@pytest.fixture
def keep_test_connection():
    """The WSGI app closes "old" connections at each request's start and end, and a connection
    inside the test's transaction looks old; Django's test client unhooks this the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def api_key_header(db, keep_test_connection) -> dict:
    return {"Authorization": f"Api-Key {make_tenant().plaintext_key}"}


def _load_schema():
    # The document /api/v1/schema/ serves, generated at collection time without a request (the
    # view itself is throttled, and the throttle's cache is in the database).
    document = SchemaGenerator().get_schema(request=None, public=True)
    loaded = schemathesis.openapi.from_dict(json.loads(json.dumps(document, cls=DjangoJSONEncoder)))
    loaded.app = application
    # Examples and random fuzzing only: the exhaustive boundary-value ("coverage") phase alone
    # takes over a minute here; run it from the CLI when changing the schema.
    loaded.config.phases.update(phases=["examples", "fuzzing"])
    return loaded


schema = _load_schema()


@schema.parametrize()
@settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@pytest.mark.django_db
def test_the_api_conforms_to_its_schema(case, api_key_header):
    # Business rules reach beyond what a schema can say (a positive amount with at most the
    # currency's places, an id that exists), and lenient query parameters (an unparseable
    # page_size falls back to the default) are deliberate: the two checks that demand the schema
    # alone decide acceptance are left out. Everything else runs: no 5xx, documented statuses,
    # content types, bodies and headers, and authentication enforced.
    case.call_and_validate(
        headers=api_key_header, excluded_checks=[positive_data_acceptance, negative_data_rejection]
    )
