"""`transaction_represent` (the plain-Python transaction the API and events return) against the
field-by-field DRF serializer it replaced, kept below as the reference: same keys, order and
values for every kind of entry and every kind of caller, from the selectors' prefetch and from
the postings `entry_post` leaves in memory."""

import json

import pytest
from rest_framework import serializers

from accounts.callers import Caller, CallerKind
from broker.services import conversion_create
from ledger.api.fields import AmountField
from ledger.api.serializers import (
    TransactionSerializer,
    VisibleBalanceAfterField,
    VisibleSequenceField,
    transaction_represent,
)
from ledger.models import Account, Currency, JournalEntry
from ledger.money import from_minor_units
from ledger.selectors import entry_list
from ledger.services import deposit_create, transfer_create, transfer_reverse, withdrawal_create
from tests.factories import PlatformStaffFactory, open_account


class _ReferencePosting(serializers.Serializer):
    account = serializers.IntegerField(source="account_id")
    account_kind = serializers.CharField(source="account.kind")
    currency = serializers.CharField(source="account.currency_id")
    amount = AmountField(scale_source="account.currency.scale")
    sequence = VisibleSequenceField(allow_null=True)
    balance_after = VisibleBalanceAfterField(scale_source="account.currency.scale", allow_null=True)


class _ReferenceTransaction(serializers.ModelSerializer):
    currency = serializers.SerializerMethodField()
    amount = serializers.SerializerMethodField()
    from_account = serializers.SerializerMethodField()
    to_account = serializers.SerializerMethodField()
    reverses = serializers.IntegerField(source="reverses_id", read_only=True, allow_null=True)
    reversed_by = serializers.IntegerField(source="reversed_by_pk", read_only=True, allow_null=True)
    postings = _ReferencePosting(many=True, read_only=True)

    class Meta:
        model = JournalEntry
        fields = TransactionSerializer.Meta.fields

    def get_currency(self, entry):
        currencies = {posting.account.currency for posting in entry.postings.all()}
        return next(iter(currencies)).code if len(currencies) == 1 else None

    def get_amount(self, entry):
        currencies = {posting.account.currency for posting in entry.postings.all()}
        if len(currencies) != 1:
            return None
        credited = sum(posting.amount for posting in entry.postings.all() if posting.amount > 0)
        return from_minor_units(credited, scale=next(iter(currencies)).scale)

    def get_from_account(self, entry):
        return self._single_user_account(entry, debited=True)

    def get_to_account(self, entry):
        return self._single_user_account(entry, debited=False)

    @staticmethod
    def _single_user_account(entry, *, debited):
        accounts = {
            posting.account_id
            for posting in entry.postings.all()
            if posting.account.kind == Account.Kind.USER and (posting.amount < 0) == debited
        }
        return next(iter(accounts)) if len(accounts) == 1 else None


class _Request:
    def __init__(self, caller):
        self.auth = caller


def _as_json(value) -> str:
    return json.dumps(value)  # key order included


@pytest.fixture
def journal(client_tenant, alice, bob, alice_usd, bob_usd, usd_funding, rates):
    """One entry of each shape: transfer (later reversed), its reversal, deposit, withdrawal with
    metadata, and a conversion (two currencies, system accounts)."""
    transfer = transfer_create(from_account=alice_usd, to_account=bob_usd, amount=12_34, reference="r")
    reversal = transfer_reverse(entry=transfer)
    deposit = deposit_create(account=alice_usd, amount=5_00, metadata={"z": 1, "a": [1, "x"]})
    withdrawal = withdrawal_create(account=bob_usd, amount=1_01)
    open_account(alice, "BTC")
    conversion = conversion_create(
        user=alice, from_currency=Currency.objects.get(code="USD"), to_currency=Currency.objects.get(code="BTC"),
        amount=100_00,
    )
    return [transfer, reversal, deposit, withdrawal, conversion.entry]


def _callers(client_tenant, alice, bob):
    return {
        "api key": Caller(kind=CallerKind.API_KEY, client_id=client_tenant.pk),
        "alice": Caller(kind=CallerKind.END_USER, client_id=client_tenant.pk, user=alice),
        "bob": Caller(kind=CallerKind.END_USER, client_id=client_tenant.pk, user=bob),
        "platform staff": Caller(kind=CallerKind.PLATFORM_STAFF, client_id=None, user=PlatformStaffFactory()),
        "another client": Caller(kind=CallerKind.API_KEY, client_id=client_tenant.pk + 1000),
        "no caller": None,
    }


@pytest.mark.django_db
def test_every_entry_renders_as_the_field_by_field_serializer_did_for_every_caller(journal, client_tenant, alice, bob):
    staff = Caller(kind=CallerKind.PLATFORM_STAFF, client_id=None, user=PlatformStaffFactory())
    entries = list(entry_list(caller=staff).filter(pk__in=[entry.pk for entry in journal]).order_by("pk"))
    assert len(entries) == len(journal)
    compared = 0
    for name, caller in _callers(client_tenant, alice, bob).items():
        for entry in entries:
            expected = _ReferenceTransaction(entry, context={"request": _Request(caller)}).data
            assert _as_json(transaction_represent(entry, caller=caller)) == _as_json(expected), (name, entry.kind)
            serialized = TransactionSerializer(entry, context={"request": _Request(caller)}).data
            assert _as_json(serialized) == _as_json(expected), (name, entry.kind)
            compared += 1
    assert compared == 6 * 5
    # The cases that tell the callers apart are there: hidden balances, reversal links, nulls.
    rendered = {entry.kind: transaction_represent(entry, caller=None) for entry in entries}
    assert rendered[journal[-1].kind]["currency"] is None and rendered[journal[-1].kind]["amount"] is None
    assert all(posting["balance_after"] is None for posting in rendered["transfer"]["postings"])


@pytest.mark.django_db
def test_a_just_posted_entry_renders_from_memory_as_it_does_when_read_back(alice_usd, bob_usd, client_tenant, alice):
    entry = transfer_create(from_account=alice_usd, to_account=bob_usd, amount=3_00, metadata={"b": 2, "a": 1})
    entry.reversed_by_pk = None
    caller = Caller(kind=CallerKind.END_USER, client_id=client_tenant.pk, user=alice)
    read_back = entry_list(caller=caller).get(pk=entry.pk)
    from_memory = transaction_represent(entry, caller=caller)
    # Equal values and fields in the same order; PostgreSQL's jsonb keeps metadata keys in its own order.
    assert from_memory == transaction_represent(read_back, caller=caller)
    assert list(from_memory) == list(transaction_represent(read_back, caller=caller))
    assert [posting["sequence"] is not None for posting in from_memory["postings"]] == [True, False]
