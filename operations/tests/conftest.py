import pytest
from django.contrib.auth.models import Group

from accounts.roles import COMPLIANCE, OPERATIONS, READ_ONLY
from ledger.models import Account, JournalEntry, Posting
from tests.factories import ClientFactory, EndUserFactory, PlatformStaffFactory, open_account


def staff_with_role(role: str):
    user = PlatformStaffFactory()
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def operations_user(db):
    return staff_with_role(OPERATIONS)


@pytest.fixture
def compliance_user(db):
    return staff_with_role(COMPLIANCE)


@pytest.fixture
def read_only_user(db):
    return staff_with_role(READ_ONLY)


@pytest.fixture
def superuser(db):
    return PlatformStaffFactory(is_superuser=True)


@pytest.fixture
def tenant(db):
    return ClientFactory()


@pytest.fixture
def alice(tenant):
    return EndUserFactory(client=tenant)


@pytest.fixture
def bob(tenant):
    return EndUserFactory(client=tenant)


@pytest.fixture
def alice_usd(alice):
    """Alice's USD account holding 1,000.00."""
    return open_account(alice, "USD", deposit=100_000)


@pytest.fixture
def bob_usd(bob):
    return open_account(bob, "USD", deposit=25_000)


def ledger_snapshot() -> tuple:
    """What a refused money action must leave untouched."""
    return (
        tuple(Account.objects.order_by("pk").values_list("pk", "balance", "held")),
        JournalEntry.objects.count(),
        Posting.objects.count(),
    )
