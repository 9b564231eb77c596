"""`user_with_client_find`, compiled once per caller shape, finds exactly what `user_list` lets the
caller see, with the user's client."""

import pytest

from accounts.callers import Caller, CallerKind
from accounts.selectors import user_list, user_with_client_find
from tests.factories import ClientFactory, ClientStaffFactory, EndUserFactory, PlatformStaffFactory

pytestmark = pytest.mark.django_db


def _columns(obj) -> tuple | None:
    return obj and tuple(getattr(obj, field.attname) for field in type(obj)._meta.concrete_fields)


def test_each_caller_finds_with_the_client_exactly_the_users_user_list_shows_it():
    # given: two clients' users and every kind of caller
    first, second = ClientFactory(), ClientFactory()
    ann, bea, cyd = EndUserFactory(client=first), EndUserFactory(client=first), EndUserFactory(client=second)
    staff = PlatformStaffFactory()
    callers = [
        Caller(kind=CallerKind.API_KEY, client_id=first.pk, api_key_id=1),
        Caller(kind=CallerKind.CLIENT_STAFF, client_id=second.pk, user=ClientStaffFactory(client=second)),
        Caller.for_person(ann),  # an end user sees only itself
        Caller.for_person(staff),  # every client
        Caller.for_person(staff).narrowed_to(first.pk),
    ]
    user_ids = [ann.pk, bea.pk, cyd.pk, staff.pk, 10**12]
    for caller in callers:
        for user_id in user_ids:
            # when
            found = user_with_client_find(caller=caller, user_id=user_id)
            # then
            expected = user_list(caller=caller).filter(pk=user_id).first()
            assert _columns(found) == _columns(expected), (caller, user_id)
            if found is not None:
                assert _columns(found.client) == _columns(expected.client)
