"""JSON rendering with orjson: the same bytes DRF's JSONRenderer writes for our data (compact,
UTF-8, keys in order, datetimes and other types through DRF's own encoder), several times faster.
Parsing stays with `core.api.parsers` (numbers must parse as Decimal, which orjson cannot do).

A body this renderer already wrote (an idempotent request's stored reply) is sent again as
`RenderedJSON`: its data for whoever reads it, and its text, which the renderer writes as it is."""

import json

import orjson
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

_drf_default = JSONEncoder().default


class RenderedJSON(dict):
    """A JSON object as `FastJSONRenderer` rendered it: the parsed object, with its text."""

    def __init__(self, text: str):
        super().__init__(json.loads(text))
        self.text = text


def rendered_json(text: str):
    """The data of a body `FastJSONRenderer` wrote: a `RenderedJSON` for an object, else parsed."""
    return RenderedJSON(text) if text.startswith("{") else json.loads(text)


class FastJSONRenderer(JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if self.get_indent(accepted_media_type, renderer_context or {}):
            return super().render(data, accepted_media_type, renderer_context)  # a human asked for indent
        if isinstance(data, RenderedJSON):
            return data.text.encode()
        # Datetimes go through DRF's encoder too ("Z" for UTC, as DRF writes them). Keys that are
        # not strings (a list field's errors are keyed by index) are written as strings, as the
        # json module does.
        return orjson.dumps(
            data, default=_drf_default, option=orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS
        )
