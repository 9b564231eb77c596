"""Staff sign-in (`POST /auth/token/`) and refresh (`POST /auth/token/refresh/`), on simplejwt.

Refresh tokens rotate: each refresh answers a new refresh token and blacklists the one it was
given, so a stolen refresh token works once at most. Both refuse a person whose client is
inactive (`accounts.authentication.person_may_authenticate`). Every refusal is a readable 401
with a stable code and counts against the failed-authentication throttle of the client IP.
"""

from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework_simplejwt.exceptions import ExpiredTokenError, TokenError
from rest_framework_simplejwt.serializers import TokenRefreshSerializer
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from accounts.authentication import TOKEN_EXPIRED, TOKEN_INVALID, claim_id, person_may_authenticate
from accounts.models import User
from core.api.throttling import auth_failure_record, auth_failures_check


class StaffTokenRefreshSerializer(TokenRefreshSerializer):
    """simplejwt's refresh, made strictly single-use: of two refreshes racing with the same token
    only the one whose blacklist row is created wins (the unique row decides); the other is
    refused as blacklisted."""

    def validate(self, attrs):
        refresh = RefreshToken(attrs["refresh"])  # signature, expiry, type, not blacklisted
        user_id = claim_id(refresh.payload.get("user_id"))
        if user_id is None:
            raise TokenError("Token is invalid")
        if not person_may_authenticate(User.objects.filter(pk=user_id).first()):
            raise exceptions.AuthenticationFailed("No active account found for the given token.")
        _, created = refresh.blacklist()
        if not created:
            raise TokenError("Token is blacklisted")
        data = {"access": str(refresh.access_token)}
        refresh.set_jti()
        refresh.set_exp()
        refresh.set_iat()
        refresh.outstand()
        data["refresh"] = str(refresh)
        return data


class _ReadableTokenView:
    def post(self, request, *args, **kwargs):
        auth_failures_check(request)  # past the limit: 429 before any password hash or lookup
        serializer = self.get_serializer(data=request.data)
        try:
            serializer.is_valid(raise_exception=True)
        except ExpiredTokenError:
            auth_failure_record(request)
            raise exceptions.AuthenticationFailed("The refresh token has expired; sign in again.",
                                                  code=TOKEN_EXPIRED) from None
        except TokenError:
            auth_failure_record(request)
            raise exceptions.AuthenticationFailed("The token is not valid.", code=TOKEN_INVALID) from None
        except exceptions.AuthenticationFailed:
            auth_failure_record(request)
            raise exceptions.AuthenticationFailed(
                "No active account found with the given credentials.", code="no_active_account"
            ) from None
        return Response(serializer.validated_data, status=status.HTTP_200_OK)


class StaffTokenObtainView(_ReadableTokenView, TokenObtainPairView):
    """Sign in with username and password: an access and a refresh token."""


class StaffTokenRefreshView(_ReadableTokenView, TokenRefreshView):
    """Exchange a refresh token for a new access token and a new refresh token (the old one is
    blacklisted)."""

    serializer_class = StaffTokenRefreshSerializer
