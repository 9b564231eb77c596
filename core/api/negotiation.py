"""Content negotiation: DRF's, with the commonest case decided without parsing.

Server-to-server clients mostly send no `Accept` header (or `*/*`); DRF then parses the header,
orders it by precedence and matches it against every renderer to arrive at the view's first
renderer. That answer is given here directly; any other request is negotiated by DRF."""

from rest_framework.negotiation import DefaultContentNegotiation


class ContentNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        if (
            format_suffix is None
            and request.META.get("HTTP_ACCEPT", "*/*") == "*/*"
            and self.settings.URL_FORMAT_OVERRIDE not in request.query_params
        ):
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)
