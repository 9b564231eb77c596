"""Reads of clients' users. Every selector takes the caller and scopes through `scope_to_caller`."""

from django.db.models import QuerySet

from accounts.callers import Caller, scope_to_caller
from accounts.models import User


def user_list(*, caller: Caller) -> QuerySet[User]:
    """The end users the caller may see: its client's (all for unnarrowed platform staff);
    an end user sees only itself. Deactivated users stay visible: their history is kept."""
    users = scope_to_caller(User.objects.filter(kind=User.Kind.END_USER), caller)
    if caller.is_end_user:
        users = users.filter(pk=caller.user.pk)
    return users
