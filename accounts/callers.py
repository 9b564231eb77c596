"""Who is calling: the one object every view, selector and throttle reads (`request.auth`).

Every authentication class resolves to a Caller. Tenant scoping reads `client_id`: None only
for platform staff, who see every client — unless they narrowed their view to one client
(`?client=<id>`, applied by `Caller.narrowed_to`), which goes through the same `scope_to_caller`.
"""

from collections.abc import Hashable
from dataclasses import dataclass, replace
from enum import StrEnum

from django.db.models import QuerySet

from accounts.models import User


class CallerKind(StrEnum):
    API_KEY = "api_key"
    END_USER = "end_user"
    PLATFORM_STAFF = "platform_staff"
    CLIENT_STAFF = "client_staff"


@dataclass(frozen=True)
class Caller:
    """Satisfies core.api.caller.CallerLike, which is all the shared API machinery reads."""

    kind: CallerKind
    client_id: int | None
    user: User | None = None
    api_key_id: int | None = None

    @property
    def is_platform_staff(self) -> bool:
        return self.kind == CallerKind.PLATFORM_STAFF

    @property
    def is_end_user(self) -> bool:
        return self.kind == CallerKind.END_USER

    @property
    def end_user_id(self) -> int:
        """The end user's id, for an end-user caller (selectors narrow to their own rows)."""
        if self.user is None or not self.is_end_user:
            raise ValueError("Only an end-user caller has an end user.")
        return self.user.pk

    @property
    def idempotency_scope(self) -> str:
        """Whose Idempotency-Keys share one namespace: a client (its keys and its staff), an end
        user, or a staff member. An end user can never replay a response its client got."""
        if self.kind in (CallerKind.API_KEY, CallerKind.CLIENT_STAFF):
            return f"client:{self.client_id}"
        return f"{self.kind}:{self.user.pk if self.user else 'anonymous'}"

    def narrowed_to(self, client_id: int) -> "Caller":
        """Platform staff looking at one client; everyone else already sees one client only."""
        if not self.is_platform_staff:
            return self
        return replace(self, client_id=client_id)

    @property
    def throttle_key(self) -> str:
        if self.api_key_id is not None:
            return f"key:{self.api_key_id}"
        return f"user:{self.user.pk if self.user else 'anonymous'}"

    @classmethod
    def for_person(cls, user: User) -> "Caller":
        if user.kind == User.Kind.PLATFORM_STAFF:
            return cls(kind=CallerKind.PLATFORM_STAFF, client_id=None, user=user)
        if user.kind == User.Kind.CLIENT_STAFF:
            return cls(kind=CallerKind.CLIENT_STAFF, client_id=user.client_id, user=user)
        return cls(kind=CallerKind.END_USER, client_id=user.client_id, user=user)


def caller_shape(caller: Caller) -> tuple[Hashable, dict[str, int]]:
    """What a selector's SQL depends on in `caller` (its kind, and whether it is scoped to one
    client), and the integers it binds (client id, end user id): for querysets compiled once per
    shape (core.compiled). `caller_rebuilt` makes a caller of that shape from such integers."""
    values = {"client_id": caller.client_id} if caller.client_id is not None else {}
    if caller.is_end_user:
        values["end_user_id"] = caller.end_user_id
    return (caller.kind, caller.client_id is not None), values


def caller_rebuilt(shape: Hashable, *, client_id: int | None = None, end_user_id: int | None = None) -> Caller:
    kind: CallerKind = shape[0]  # type: ignore[index]
    return Caller(kind=kind, client_id=client_id, user=User(pk=end_user_id) if end_user_id is not None else None)


def scope_to_caller(queryset: QuerySet, caller: Caller, *, client_field: str = "client") -> QuerySet:
    """The one tenant filter: a caller sees only its client's rows (platform staff see all, or
    the one client they narrowed to)."""
    if caller.is_platform_staff and caller.client_id is None:
        return queryset
    return queryset.filter(**{f"{client_field}_id": caller.client_id})
