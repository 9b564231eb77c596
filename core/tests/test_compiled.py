"""CompiledQuery: a queryset compiled once per shape gives what the queryset itself gives."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from core.compiled import CompiledQuery
from tests.factories import ClientFactory, EndUserFactory

pytestmark = pytest.mark.django_db


def _users(shape, *, ids, client_id=None):
    users = User.objects.select_related("client").filter(pk__in=ids)
    return users if shape == "every client" else users.filter(client_id=client_id)


def _fields(user: User) -> tuple:
    client = user.client
    return (
        tuple(getattr(user, field.attname) for field in User._meta.concrete_fields),
        client and tuple(getattr(client, field.attname) for field in type(client)._meta.concrete_fields),
    )


def test_compiled_fetch_returns_what_the_queryset_returns_with_related_rows_in_one_statement():
    # given: two clients' users
    first, second = ClientFactory(), ClientFactory()
    ann, bea = EndUserFactory(client=first), EndUserFactory(client=first)
    cyd = EndUserFactory(client=second)
    compiled = CompiledQuery(_users)
    for shape, ids, client_id in [
        ("one client", [ann.pk, bea.pk], first.pk),
        ("one client", [ann.pk, cyd.pk], first.pk),  # the other client's user is filtered out
        ("one client", [cyd.pk], second.pk),
        ("every client", [ann.pk, cyd.pk], None),
        ("every client", [10**12], None),  # no such user
    ]:
        values = {"ids": ids} if client_id is None else {"ids": ids, "client_id": client_id}
        # when
        with CaptureQueriesContext(connection) as captured:
            fetched = sorted(compiled.fetch(shape, **values), key=lambda user: user.pk)
            compared = list(map(_fields, fetched))  # reads each user's client too
        # then: the same rows and related rows, loaded in one statement
        expected = sorted(_users(shape, **values), key=lambda user: user.pk)
        assert compared == list(map(_fields, expected))
        assert len(captured) == 1
        assert all(not user._state.adding and user._state.db == "default" for user in fetched)


def test_each_shape_and_length_is_compiled_once():
    client = ClientFactory()
    users = [EndUserFactory(client=client) for _ in range(3)]
    built = []

    def build(shape, **values):
        built.append((shape, len(values["ids"])))
        return _users(shape, **values)

    compiled = CompiledQuery(build)
    for user in users:
        found = compiled.fetch("one client", ids=[user.pk], client_id=client.pk)
        assert [each.pk for each in found] == [user.pk]
    compiled.fetch("one client", ids=[users[0].pk, users[1].pk], client_id=client.pk)
    compiled.fetch("every client", ids=[users[0].pk])
    # (each compilation builds twice, to check the values are parameters)
    assert built == [("one client", 1)] * 2 + [("one client", 2)] * 2 + [("every client", 1)] * 2


def test_a_value_written_into_the_sql_text_is_refused():
    client = ClientFactory()
    compiled = CompiledQuery(
        lambda shape, *, ids, client_id: User.objects.filter(pk__in=ids).extra(where=[f"client_id = {client_id}"])  # noqa: S610
    )
    with pytest.raises(ValueError, match="as a parameter"):
        compiled.fetch(None, ids=[1], client_id=client.pk)


def test_a_value_the_query_does_not_need_is_allowed():
    user = EndUserFactory()
    compiled = CompiledQuery(lambda shape, *, ids, client_id: User.objects.filter(pk__in=ids))
    assert [found.pk for found in compiled.fetch(None, ids=[user.pk], client_id=10**9)] == [user.pk]


def test_only_whole_model_instances_can_be_compiled():
    for deferred_or_dicts in (User.objects.only("pk"), User.objects.values("pk")):
        compiled = CompiledQuery(lambda shape, *, ids, queryset=deferred_or_dicts: queryset.filter(pk__in=ids))
        with pytest.raises(ValueError, match="whole model instances"):
            compiled.fetch(None, ids=[1])
