from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from core.api.caller import CallerLike


class CallerRateThrottle(SimpleRateThrottle):
    """One bucket per API key, per end-user token subject, or per person (JWT/session).

    Counts live in the shared cache (database or Redis), so the limit holds across processes.
    """

    scope = "caller"

    def get_rate(self):
        # Read at request time, not import time (DRF's default), so the rate follows the settings.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view):
        caller = request.auth
        if not isinstance(caller, CallerLike):  # anonymous
            return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
        return self.cache_format % {"scope": self.scope, "ident": caller.throttle_key}
