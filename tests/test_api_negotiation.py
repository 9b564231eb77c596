"""Content negotiation answers every request as DRF's own negotiation would: the shortcut for a
request without a preference changes nothing a client can see."""

import pytest
from django.http import Http404
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from core.api.negotiation import ContentNegotiation
from core.api.renderers import FastJSONRenderer
from ledger.api.renderers import CSVRenderer

RENDERER_LISTS = [
    [FastJSONRenderer(), BrowsableAPIRenderer()],
    [BrowsableAPIRenderer(), FastJSONRenderer()],
    [CSVRenderer(), JSONRenderer()],
]
ACCEPTS = [None, "*/*", "", "application/json", "text/html", "application/json; indent=2", "text/csv", "image/png",
           "text/html;q=0.9, */*;q=0.1"]


def _outcome(negotiation, request, renderers, format_suffix):
    try:
        renderer, media_type = negotiation.select_renderer(request, renderers, format_suffix)
    except NotAcceptable:
        return "not acceptable"
    except Http404:  # a format no renderer has
        return "not found"
    return renderers.index(renderer), media_type


@pytest.mark.parametrize("renderers", RENDERER_LISTS, ids=lambda renderers: type(renderers[0]).__name__)
@pytest.mark.parametrize("accept", ACCEPTS)
@pytest.mark.parametrize("query", ["", "?format=json", "?format=api", "?format=csv", "?other=1"])
@pytest.mark.parametrize("format_suffix", [None, "json"])
def test_every_request_gets_the_renderer_drf_would_choose(renderers, accept, query, format_suffix):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(APIRequestFactory().get(f"/api/v1/{query}", **headers))
    ours = _outcome(ContentNegotiation(), request, renderers, format_suffix)
    assert ours == _outcome(DefaultContentNegotiation(), request, renderers, format_suffix)
