"""CompiledQuery: a queryset compiled once per shape gives what the queryset itself gives."""

import pytest
from django.db import DatabaseError, connection
from django.db.models import Exists
from django.db.models.signals import post_save
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from core.compiled import CompiledQuery, row_create, row_update
from ledger.models import Account, Currency, CurrencyAuthorization
from ledger.services import account_create, currency_authorization_grant
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


def _accounts_with_authorization(shape, *, user_id, currency_code, currency_codes):
    # a string value used twice, an integer value used twice, and an annotation
    authorized = CurrencyAuthorization.objects.filter(user_id=user_id, currency_id=currency_code)
    return (
        Account.objects.select_related("currency")
        .filter(user_id=user_id, currency_id__in=currency_codes)
        .annotate(is_authorized=Exists(authorized))
        .order_by("pk")
    )


def test_string_values_values_used_twice_and_annotations_give_what_the_queryset_gives():
    # given: a user with USD and BTC accounts, authorized for BTC only, and one without
    ann, bea = EndUserFactory(), EndUserFactory()
    currency_authorization_grant(user=ann, currency=Currency.objects.get(code="BTC"))
    for user in (ann, bea):
        for code in ("USD", "BTC", "ETH"):
            account_create(user=user, currency=Currency.objects.get(code=code))
    compiled = CompiledQuery(_accounts_with_authorization)
    for user, code in [(ann, "BTC"), (ann, "ETH"), (bea, "BTC"), (bea, "XYZ")]:
        values = {"user_id": user.pk, "currency_code": code, "currency_codes": ["USD", code]}
        # when
        fetched = compiled.fetch(None, **values)
        # then: the same rows, related rows and annotation (a bool on every database)
        expected = list(_accounts_with_authorization(None, **values))
        assert [(account.pk, account.currency.scale, account.is_authorized) for account in fetched] == [
            (account.pk, account.currency.scale, account.is_authorized) for account in expected
        ]
        assert {account.currency_id for account in fetched} == {"USD", code} & {"USD", "BTC", "ETH"}
        assert [account.is_authorized for account in fetched if account.currency_id != "USD"] == (
            [user == ann and code == "BTC"] if code != "XYZ" else []
        )
        assert all(type(account.is_authorized) is bool for account in fetched)


def test_a_string_value_the_query_changes_is_refused():
    uppercased = CompiledQuery(lambda shape, *, code: Currency.objects.filter(code=code.upper()))
    with pytest.raises(ValueError, match="unchanged"):
        uppercased.fetch(None, code="BTC")


def test_row_update_writes_what_save_with_update_fields_writes():
    # given: two users changed the same way, one saved by Django, one by row_update
    first, second = EndUserFactory(), EndUserFactory()
    for user in (first, second):
        user.first_name, user.is_active = "Renamed", False
        user.last_name = "not written"
    # when
    first.save(update_fields=["first_name", "is_active"])
    row_update(second, update_fields=["first_name", "is_active"])
    # then: the named columns only
    for user in (first, second):
        stored = User.objects.get(pk=user.pk)
        assert (stored.first_name, stored.is_active) == ("Renamed", False)
        assert stored.last_name != "not written"


def test_row_update_of_a_missing_row_fails_as_save_does():
    user = EndUserFactory()
    User.objects.filter(pk=user.pk).delete()
    with pytest.raises(DatabaseError, match="did not affect any rows"):
        row_update(user, update_fields=["first_name"])


def test_row_update_leaves_a_model_with_save_signals_to_django():
    user = EndUserFactory()
    heard = []

    def receiver(sender, instance, update_fields, **kwargs):
        heard.append(set(update_fields))

    post_save.connect(receiver, sender=User)
    try:
        user.first_name = "Heard"
        row_update(user, update_fields=["first_name"])
    finally:
        post_save.disconnect(receiver, sender=User)
    assert heard == [{"first_name"}]
    assert User.objects.get(pk=user.pk).first_name == "Heard"


def test_row_create_makes_the_instance_and_row_create_makes():
    # given: a user (defaults, auto_now_add and foreign keys all apply)
    client = ClientFactory()
    values = {"username": "row-create", "client": client, "kind": User.Kind.END_USER, "external_id": "x-1"}
    # when
    created = row_create(User, **values)
    expected = User.objects.create(**{**values, "username": "objects-create", "external_id": "x-2"})
    # then: the same columns, saved and read back alike, apart from the id, the values given and the clock
    differing = {"id", "username", "external_id", "date_joined", "created_at", "updated_at"}

    def columns(user):
        return {field.attname: getattr(user, field.attname) for field in User._meta.concrete_fields}

    for instance in (created, expected):
        assert not instance._state.adding and instance._state.db == "default"
        assert columns(User.objects.get(pk=instance.pk)) == columns(instance)
    assert {name: value for name, value in columns(created).items() if name not in differing} == {
        name: value for name, value in columns(expected).items() if name not in differing
    }
    assert created.client is client and created.pk != expected.pk


def test_row_create_leaves_a_model_with_save_signals_to_django():
    heard = []

    def receiver(sender, instance, created, **kwargs):
        heard.append(created)

    post_save.connect(receiver, sender=User)
    try:
        user = row_create(User, username="heard", client=ClientFactory(), kind=User.Kind.END_USER)
    finally:
        post_save.disconnect(receiver, sender=User)
    assert heard == [True] and User.objects.filter(pk=user.pk).exists()
