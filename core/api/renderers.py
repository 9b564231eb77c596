"""JSON rendering with orjson: the same bytes DRF's JSONRenderer writes for our data (compact,
UTF-8, keys in order, datetimes and other types through DRF's own encoder), several times faster.
Parsing stays with `core.api.parsers` (numbers must parse as Decimal, which orjson cannot do)."""

import orjson
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

_drf_default = JSONEncoder().default


class FastJSONRenderer(JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if self.get_indent(accepted_media_type, renderer_context or {}):
            return super().render(data, accepted_media_type, renderer_context)  # a human asked for indent
        # Datetimes go through DRF's encoder too ("Z" for UTC, as DRF writes them). Keys that are
        # not strings (a list field's errors are keyed by index) are written as strings, as the
        # json module does.
        return orjson.dumps(
            data, default=_drf_default, option=orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS
        )
