"""The authentication classes. Each resolves the request to a `Caller` in `request.auth`.

- `Api-Key <prefix>.<secret>`: a client backend, acting for its client only.
- `Bearer <end-user token>`: one end user, minted by its client (see accounts.tokens).
- `Bearer <JWT access token>`: a person (platform staff or a client's staff).
- Session: a person logged in through admin, for the browsable API.

Every path refuses a caller whose client is inactive (401 `client_inactive`); keys and tokens are
not revoked by that and work again once the client is reactivated. A refused credential counts
against the failed-authentication throttle of the client IP (core.api.throttling); past its limit
the answer is 429 and credentials are no longer looked up. Bearer tokens that fail answer 401
with a stable code: `token_expired` (refresh or mint a new one) or `token_invalid`.
"""

from typing import NoReturn

from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import ExpiredTokenError, TokenError
from rest_framework_simplejwt.tokens import AccessToken, UntypedToken

from accounts.api_keys import api_key_matches, api_key_split
from accounts.callers import Caller, CallerKind
from accounts.credentials import api_key_record_cached, api_key_record_load, client_is_active
from accounts.models import ApiKey, User
from accounts.tokens import EndUserToken
from core.api.throttling import auth_failure_record, auth_failures_check

# last_used_at is written at most once per interval per key, not on every request.
LAST_USED_RESOLUTION_SECONDS = 60

CLIENT_INACTIVE = "client_inactive"
TOKEN_EXPIRED = "token_expired"  # noqa: S105 - an error code, not a secret
TOKEN_INVALID = "token_invalid"  # noqa: S105 - an error code, not a secret


def refuse(request, detail: str, code: str = "authentication_failed") -> NoReturn:
    """Count the failure for the client IP (429 once past the limit), then answer 401."""
    auth_failure_record(request)
    raise exceptions.AuthenticationFailed(detail, code=code)


def person_may_authenticate(user: User | None) -> bool:
    """simplejwt's USER_AUTHENTICATION_RULE (token login and refresh): an active person whose
    client, if any, is active."""
    return (
        user is not None
        and user.is_active
        and (user.client_id is None or client_is_active(client_id=user.client_id))
    )


def claim_id(value) -> int | None:
    """An id claim as an int (simplejwt writes them as digit strings), or None if it is not one.
    Tokens are signed, so only a holder of the signing key can put anything else there; still a
    401, never a 500."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 < value < 2**63 else None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 19:
        return int(value)
    return None


def _bearer(request) -> str | None:
    header = authentication.get_authorization_header(request).decode("latin-1")
    scheme, _, raw = header.partition(" ")
    raw = raw.strip()
    return raw if scheme == "Bearer" and raw else None


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Api-Key"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _, credentials = header.partition(" ")
        if scheme != self.keyword:
            return None
        parts = api_key_split(credentials.strip())
        if parts is None:
            refuse(request, "Malformed API key.")
        prefix, secret = parts
        record = api_key_record_cached(prefix=prefix)
        from_database = record is None
        if from_database:
            auth_failures_check(request)  # a client IP past its failure limit costs no query
            record = api_key_record_load(prefix=prefix)
        now = timezone.now()
        if (
            record is None
            or not api_key_matches(secret, record.hashed_secret)
            or record.is_revoked
            or (record.expires_at is not None and record.expires_at <= now)
        ):
            refuse(request, "Invalid, expired or revoked API key.")
        if not record.client_is_active:
            refuse(request, "This client is deactivated.", CLIENT_INACTIVE)
        # The record is re-read from the database at most every AUTH_CACHE_SECONDS; that is when
        # last_used_at is brought up to date (within its resolution).
        if from_database and (
            record.last_used_at is None or (now - record.last_used_at).total_seconds() > LAST_USED_RESOLUTION_SECONDS
        ):
            ApiKey.objects.filter(pk=record.key_id).update(last_used_at=now)
        return (None, Caller(kind=CallerKind.API_KEY, client_id=record.client_id, api_key_id=record.key_id))

    def authenticate_header(self, request):
        return self.keyword


def _decode_bearer(request, raw: str) -> UntypedToken:
    """Signature and expiry checked, type not yet: a readable 401 for anything else."""
    try:
        return UntypedToken(raw)  # type: ignore[arg-type]  # the stubs omit str, which simplejwt takes
    except ExpiredTokenError:
        refuse(request, "The token has expired; refresh it or ask for a new one.", TOKEN_EXPIRED)
    except TokenError:
        refuse(request, "The token is not valid.", TOKEN_INVALID)


class EndUserTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        raw = _bearer(request)
        if raw is None:
            return None
        token = _decode_bearer(request, raw)
        if token.get("token_type") != EndUserToken.token_type:
            return None  # not an end-user token: the JWT class decides
        user_id, client_id = claim_id(token.get("user_id")), claim_id(token.get("client_id"))
        if user_id is None or client_id is None:
            refuse(request, "The token is not valid.", TOKEN_INVALID)
        user = User.objects.filter(pk=user_id, client_id=client_id, kind=User.Kind.END_USER, is_active=True).first()
        if user is None:
            refuse(request, "The user of this token is no longer active.")
        if not client_is_active(client_id=user.client_id):
            refuse(request, "This client is deactivated.", CLIENT_INACTIVE)
        return (user, Caller(kind=CallerKind.END_USER, client_id=user.client_id, user=user))

    def authenticate_header(self, request):
        return "Bearer"


class StaffJWTAuthentication(JWTAuthentication):
    """simplejwt access tokens for people; end users never log in with a password."""

    def authenticate(self, request):
        raw = _bearer(request)
        if raw is None:
            return None
        token = _decode_bearer(request, raw)
        if token.get("token_type") != AccessToken.token_type:
            refuse(request, "The token is not an access token.", TOKEN_INVALID)
        user_id = claim_id(token.get("user_id"))
        if user_id is None:
            refuse(request, "The token is not valid.", TOKEN_INVALID)
        user = User.objects.filter(pk=user_id).first()
        if user is None or not user.is_active:
            refuse(request, "The person of this token is no longer active.")
        if user.kind == User.Kind.END_USER:
            refuse(request, "End users authenticate with end-user tokens.", TOKEN_INVALID)
        if user.client_id is not None and not client_is_active(client_id=user.client_id):
            refuse(request, "This client is deactivated.", CLIENT_INACTIVE)
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
        if user.client_id is not None and not client_is_active(client_id=user.client_id):
            raise exceptions.AuthenticationFailed("This client is deactivated.", code=CLIENT_INACTIVE)
        return (user, Caller.for_person(user))
