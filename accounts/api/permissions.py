"""Who may do what. `CallerPermission` is the default for every API view (settings).

How to use it in a view:

- Every caller must be authenticated (no credentials → 401).
- End users may call only the actions a view lists in `end_user_actions` (e.g.
  `end_user_actions = {"list", "retrieve"}`); anything else → 403. What they *see* inside an
  allowed action is narrowed further by the selectors (their own rows; others → 404).
- Platform staff need a staff role: any role to read, Operations to write (accounts.roles).
- API keys and client staff may call every action; selectors confine them to their client.

Views that must stay open (the schema, token obtain) set `permission_classes` explicitly.
"""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from accounts import roles
from accounts.callers import Caller


class CallerPermission(BasePermission):
    message = "You are not allowed to perform this action."

    def has_permission(self, request, view) -> bool:
        caller = request.auth
        if not isinstance(caller, Caller):
            return False  # DRF answers 401 when no credentials were given
        if caller.is_end_user:
            return getattr(view, "action", None) in getattr(view, "end_user_actions", ())
        if caller.is_platform_staff:
            if request.method in SAFE_METHODS:
                return roles.user_has_role(caller.user, *roles.ALL_ROLES)
            return roles.user_has_role(caller.user, roles.OPERATIONS)
        return True


class IsOperationsStaff(BasePermission):
    """Platform staff holding the Operations role (superusers pass): e.g. changing rates."""

    message = "Only platform staff with the Operations role may change rates."

    def has_permission(self, request, view) -> bool:
        caller = request.auth
        return isinstance(caller, Caller) and caller.is_platform_staff and roles.user_has_role(
            caller.user, roles.OPERATIONS
        )


class ClientOnly(BasePermission):
    """Only the client itself (API key or client staff): e.g. minting tokens for its users."""

    message = "Only the client's own API keys and staff may do this."

    def has_permission(self, request, view) -> bool:
        caller = request.auth
        return isinstance(caller, Caller) and caller.client_id is not None and not caller.is_end_user and (
            not caller.is_platform_staff
        )
