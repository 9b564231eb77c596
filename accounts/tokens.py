"""Short-lived end-user tokens: signed JWTs (simplejwt) of their own type, so they are never
accepted where a staff access token is expected, and need no database row to verify."""

from datetime import timedelta

from django.conf import settings
from rest_framework_simplejwt.tokens import Token

from accounts.models import User


class EndUserToken(Token):
    token_type = "end_user"  # noqa: S105 - a token kind, not a secret
    lifetime = timedelta(minutes=15)


def end_user_token_mint(*, user: User, minutes: int | None = None) -> EndUserToken:
    token = EndUserToken()
    token.set_exp(lifetime=timedelta(minutes=minutes or settings.END_USER_TOKEN_MINUTES))
    token["user_id"] = user.pk
    token["client_id"] = user.client_id
    return token
