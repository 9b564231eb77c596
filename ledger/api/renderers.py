"""CSV for statements. The view streams the rows itself (constant memory, any length); this
renderer only lets content negotiation pick CSV (`?format=csv` or `Accept: text/csv`). Anything
else it is handed (an error's problem details) is written as JSON."""

from rest_framework.renderers import BaseRenderer, JSONRenderer


class CSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return JSONRenderer().render(data, renderer_context=renderer_context)


class Echo:
    """A file-like object whose write returns what it was given: csv.writer then yields lines."""

    def write(self, value: str) -> str:
        return value
