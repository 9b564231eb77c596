"""The authentication classes. Each resolves the request to a `Caller` in `request.auth`.

- `Api-Key <prefix>.<secret>`: a client backend, acting for its client only.
- `Bearer <end-user token>`: one end user, minted by its client (see accounts.tokens).
- `Bearer <JWT access token>`: a person (platform staff or a client's staff).
- Session: a person logged in through admin, for the browsable API.
"""

from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import TokenError

from accounts.api_keys import api_key_matches, api_key_split
from accounts.callers import Caller, CallerKind
from accounts.models import ApiKey, User
from accounts.tokens import EndUserToken

# last_used_at is written at most once per interval per key, not on every request.
LAST_USED_RESOLUTION_SECONDS = 60


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Api-Key"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _, credentials = header.partition(" ")
        if scheme != self.keyword:
            return None
        parts = api_key_split(credentials.strip())
        if parts is None:
            raise exceptions.AuthenticationFailed("Malformed API key.")
        prefix, secret = parts
        key = ApiKey.objects.select_related("client").filter(prefix=prefix).first()
        now = timezone.now()
        if (
            key is None
            or not api_key_matches(secret, key.hashed_secret)
            or key.revoked_at is not None
            or (key.expires_at is not None and key.expires_at <= now)
            or not key.client.is_active
        ):
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked API key.")
        if key.last_used_at is None or (now - key.last_used_at).total_seconds() > LAST_USED_RESOLUTION_SECONDS:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        return (None, Caller(kind=CallerKind.API_KEY, client_id=key.client_id, api_key_id=key.pk))

    def authenticate_header(self, request):
        return self.keyword


class EndUserTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _, raw = header.partition(" ")
        if scheme != "Bearer" or not raw:
            return None
        try:
            token = EndUserToken(raw.strip())
        except TokenError:
            return None  # not an end-user token: the JWT class decides (and answers 401 if bad)
        user = User.objects.filter(
            pk=token.get("user_id"), client_id=token.get("client_id"), kind=User.Kind.END_USER, is_active=True
        ).first()
        if user is None:
            raise exceptions.AuthenticationFailed("The user of this token is no longer active.")
        return (user, Caller(kind=CallerKind.END_USER, client_id=user.client_id, user=user))

    def authenticate_header(self, request):
        return "Bearer"


class StaffJWTAuthentication(JWTAuthentication):
    """simplejwt access tokens for people; end users never log in with a password."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None:
            return None
        user, _ = result
        if user.kind == User.Kind.END_USER:
            raise exceptions.AuthenticationFailed("End users authenticate with end-user tokens.")
        return (user, Caller.for_person(user))


class StaffSessionAuthentication(authentication.SessionAuthentication):
    """Admin session for the browsable API (CSRF enforced as usual)."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None:
            return None
        user, _ = result
        if user.kind == User.Kind.END_USER:
            return None
        return (user, Caller.for_person(user))
