"""Reads of clients' users. Every selector takes the caller and scopes through `scope_to_caller`."""

from django.db.models import QuerySet

from accounts.callers import Caller, caller_rebuilt, caller_shape, scope_to_caller
from accounts.models import Client, User
from core.api.fields import MAX_ID
from core.compiled import CompiledQuery
from core.errors import InvalidInputError, NotFoundError, PermissionDeniedError


def user_list(*, caller: Caller) -> QuerySet[User]:
    """The end users the caller may see: its client's (all for unnarrowed platform staff);
    an end user sees only itself. Deactivated users stay visible: their history is kept."""
    users = scope_to_caller(User.objects.filter(kind=User.Kind.END_USER), caller)
    if caller.is_end_user:
        users = users.filter(pk=caller.end_user_id)
    return users


def user_with_client_find(*, caller: Caller, user_id: int) -> User | None:
    """The user `user_id` if in `user_list(caller=caller)`, with its client (one join), or None.

    Trades read it on every request, so its SQL is compiled once per caller shape (core.compiled)."""
    shape, values = caller_shape(caller)
    found = _USER_WITH_CLIENT.fetch(shape, user_id=user_id, **values)
    return found[0] if found else None


def _user_with_client(shape, *, user_id: int, **caller_values: int) -> QuerySet[User]:
    users = user_list(caller=caller_rebuilt(shape, **caller_values))
    return users.select_related("client").filter(pk=user_id).order_by("pk")[:1]


_USER_WITH_CLIENT = CompiledQuery(_user_with_client)


def access_user_for_token(*, caller: Caller, user_id: int) -> User:
    """The end user `user_id` the caller may mint a token for: one of its client's users
    (NotFoundError otherwise) that is still active (a deactivated user gets no token: 400)."""
    user = user_list(caller=caller).filter(pk=user_id).first() if 0 < user_id <= MAX_ID else None
    if user is None:
        raise NotFoundError("User not found.")
    if not user.is_active:
        raise InvalidInputError("This user is deactivated.", errors={"user": ["This user is deactivated."]})
    return user


def access_client_for_status_change(*, caller: Caller, client_id: int) -> Client:
    """The client whose activity the caller may switch: platform staff only. Another tenant's
    client is not visible (NotFoundError); a client's own callers may see theirs but not switch
    it (PermissionDeniedError)."""
    client = Client.objects.filter(pk=client_id).first() if 0 < client_id <= MAX_ID else None
    if client is None or (caller.client_id is not None and client.pk != caller.client_id):
        raise NotFoundError("Client not found.")
    if not caller.is_platform_staff:
        raise PermissionDeniedError("Only platform staff may deactivate or reactivate a client.")
    return client


def access_client_for_new_user(*, caller: Caller, named: Client | None) -> Client:
    """The client a new user joins: the caller's own (a client named in the body is ignored), or
    for platform staff the active client they name, which they must."""
    if not caller.is_platform_staff:
        own = None
        if caller.client_id is not None:
            own = Client.objects.filter(pk=caller.client_id, is_active=True).first()
        if own is None:  # a deactivated client adds no users
            raise NotFoundError("Client not found.")
        return own
    if named is None:
        raise InvalidInputError(
            "Platform staff must name the client of the new user.",
            errors={"client": ["Platform staff must name the client of the new user."]},
        )
    return named
