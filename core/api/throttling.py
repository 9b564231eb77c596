from rest_framework.throttling import SimpleRateThrottle


class CallerRateThrottle(SimpleRateThrottle):
    """One bucket per API key, per end-user token subject, or per person (JWT/session).

    Counts live in the shared cache (database or Redis), so the limit holds across processes.
    """

    scope = "caller"

    def get_cache_key(self, request, view):
        caller = getattr(request, "caller", None)
        if caller is None:
            return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
        return self.cache_format % {"scope": self.scope, "ident": caller.throttle_key}
