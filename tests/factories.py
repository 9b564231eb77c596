"""Factories for the models every test needs. Money helpers go through the real services."""

import factory

from accounts.models import Client, User
from ledger.models import Account, Currency
from ledger.services import account_create, currency_authorization_grant, deposit_create


class ClientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Client

    name = factory.Sequence(lambda n: f"Client {n}")
    slug = factory.Sequence(lambda n: f"client-{n}")


class EndUserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    client = factory.SubFactory(ClientFactory)
    kind = User.Kind.END_USER
    username = factory.Sequence(lambda n: f"end-user-{n}")
    external_id = factory.Sequence(lambda n: f"ext-{n}")
    email = factory.LazyAttribute(lambda user: f"{user.external_id}@example.com")
    name = factory.Faker("name")


class ClientStaffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    client = factory.SubFactory(ClientFactory)
    kind = User.Kind.CLIENT_STAFF
    username = factory.Sequence(lambda n: f"client-staff-{n}")
    password = factory.django.Password("correct horse battery staple")


class PlatformStaffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    client = None
    kind = User.Kind.PLATFORM_STAFF
    username = factory.Sequence(lambda n: f"platform-staff-{n}")
    is_staff = True
    password = factory.django.Password("correct horse battery staple")


def open_account(user: User, code: str, *, deposit: int = 0) -> Account:
    """An authorized account for `user` in `code`, optionally funded by a real deposit (minor units)."""
    currency = Currency.objects.get(code=code)
    currency_authorization_grant(user=user, currency=currency)
    account = account_create(user=user, currency=currency)
    if deposit:
        deposit_create(account=account, amount=deposit)
        account.refresh_from_db()
    return account
