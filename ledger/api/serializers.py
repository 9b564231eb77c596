import copy
import json
from collections.abc import Sequence
from functools import lru_cache

from django.db.models import Prefetch, prefetch_related_objects
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.api.fields import ScopedIdField
from accounts.selectors import user_list
from ledger.api.fields import AmountField, AmountsMixin
from ledger.models import Account, Currency, JournalEntry, Posting
from ledger.money import from_minor_units
from ledger.selectors import account_destination_list, account_list
from ledger.services.posting import Leg

METADATA_MAX_BYTES = 4096


@extend_schema_field({"type": "string", "maxLength": 10, "example": "BTC"})
class CurrencyCodeField(serializers.Field):
    """A currency code in (any case); the active Currency out (400 `unknown_currency` otherwise)."""

    default_error_messages = {
        "invalid": "A currency code such as \"BTC\" is expected.",
        "unknown_currency": "Unknown or inactive currency {code!r}.",
    }

    def to_internal_value(self, data):
        if not isinstance(data, str) or not 0 < len(data.strip()) <= 10:
            self.fail("invalid")
        code = data.strip().upper()
        currency = Currency.objects.filter(code=code, is_active=True).first()
        if currency is None:
            self.fail("unknown_currency", code=code)
        return currency

    def to_representation(self, value):
        return value.code if isinstance(value, Currency) else value


class MetadataField(serializers.JSONField):
    """A small JSON object the client attaches to a movement. Fractional numbers are refused
    (they would be stored as floats): send them as strings."""

    default_error_messages = {
        "not_object": "Metadata must be a JSON object.",
        "fraction": "Metadata numbers must be integers; send fractional values as strings.",
        "too_large": f"Metadata must encode to at most {METADATA_MAX_BYTES} bytes.",
        "null_character": "Metadata cannot contain NUL characters.",
    }

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            self.fail("not_object")
        try:
            encoded = json.dumps(data, allow_nan=False)
        except (TypeError, ValueError):
            self.fail("fraction")
        if len(encoded.encode()) > METADATA_MAX_BYTES:
            self.fail("too_large")
        if "\\u0000" in encoded:  # PostgreSQL's jsonb cannot hold it
            self.fail("null_character")
        return data


class AccountSerializer(serializers.ModelSerializer):
    user = serializers.IntegerField(source="user_id", read_only=True)
    currency = serializers.CharField(source="currency_id", read_only=True)
    balance = AmountField(read_only=True)
    available = AmountField(read_only=True, help_text="balance minus held funds (open orders, reviews).")

    class Meta:
        model = Account
        fields = ["id", "user", "currency", "balance", "available", "created_at"]


class AccountCreateSerializer(serializers.Serializer):
    user = ScopedIdField(queryset_for=lambda caller: user_list(caller=caller), not_found="User not found.")
    currency = CurrencyCodeField()


class BalanceSerializer(serializers.Serializer):
    currency = serializers.CharField(source="currency.code")
    balance = AmountField()
    available = AmountField()


class UserBalancesSerializer(serializers.Serializer):
    user = serializers.IntegerField()
    balances = BalanceSerializer(many=True)


class BalanceQuerySerializer(serializers.Serializer):
    currency = CurrencyCodeField(required=False)


def _own_accounts(caller):
    return account_list(caller=caller)


class MovementSerializer(AmountsMixin, serializers.Serializer):
    """A deposit or a withdrawal on one account the caller may see."""

    account = ScopedIdField(queryset_for=_own_accounts, not_found="Account not found.")
    amount = AmountField(currency_from="account")
    reference = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    metadata = MetadataField(required=False, default=dict)


class TransferCreateSerializer(AmountsMixin, serializers.Serializer):
    from_account = ScopedIdField(queryset_for=_own_accounts, not_found="Account not found.")
    to_account = ScopedIdField(
        queryset_for=lambda caller: account_destination_list(caller=caller), not_found="Account not found."
    )
    amount = AmountField(currency_from="from_account")
    reference = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    metadata = MetadataField(required=False, default=dict)


class ReverseSerializer(serializers.Serializer):
    reference = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    metadata = MetadataField(required=False, default=dict)


class PostingSerializer(serializers.Serializer):
    account = serializers.IntegerField(source="account_id")
    account_kind = serializers.CharField(source="account.kind")
    currency = serializers.CharField(source="account.currency_id")
    amount = AmountField(scale_source="account.currency.scale", help_text="Signed: negative debits the account.")


class TransactionSerializer(serializers.ModelSerializer):
    """A journal entry, summarised from its postings (prefetched by the selector).

    For an entry in one currency: `currency`, and `amount` = the total credited (what moved).
    `from_account`/`to_account` are the user accounts debited/credited when there is exactly one
    of each, else null (a deposit comes from outside: no from_account; a withdrawal goes outside:
    no to_account). Entries in several currencies (trades, conversions) have currency and amount
    null: read `postings`.
    """

    currency = serializers.SerializerMethodField()
    amount = serializers.SerializerMethodField()
    from_account = serializers.SerializerMethodField()
    to_account = serializers.SerializerMethodField()
    reverses = serializers.IntegerField(source="reverses_id", read_only=True, allow_null=True)
    reversed_by = serializers.IntegerField(source="reversed_by_pk", read_only=True, allow_null=True)
    postings = PostingSerializer(many=True, read_only=True)

    class Meta:
        model = JournalEntry
        fields = [
            "id",
            "kind",
            "currency",
            "amount",
            "from_account",
            "to_account",
            "reference",
            "metadata",
            "reverses",
            "reversed_by",
            "created_at",
            "postings",
        ]

    def get_currency(self, entry) -> str | None:
        currencies = {posting.account.currency for posting in entry.postings.all()}
        return next(iter(currencies)).code if len(currencies) == 1 else None

    def get_amount(self, entry) -> str | None:
        currencies = {posting.account.currency for posting in entry.postings.all()}
        if len(currencies) != 1:
            return None
        credited = sum(posting.amount for posting in entry.postings.all() if posting.amount > 0)
        return from_minor_units(credited, scale=next(iter(currencies)).scale)

    def get_from_account(self, entry) -> int | None:
        return _single_user_account(entry, debited=True)

    def get_to_account(self, entry) -> int | None:
        return _single_user_account(entry, debited=False)


def _single_user_account(entry: JournalEntry, *, debited: bool) -> int | None:
    accounts = {
        posting.account_id
        for posting in entry.postings.all()
        if posting.account.kind == Account.Kind.USER and (posting.amount < 0) == debited
    }
    return next(iter(accounts)) if len(accounts) == 1 else None


def transaction_render_posted(entry: JournalEntry, *, legs: Sequence[Leg] | None = None) -> dict:
    """A just-posted entry as GET /transactions/{id}/ renders it, for its `transaction.created`
    event. From `legs` (one posting each, in the order they were written) without a query, or
    else one query for its postings; a new entry has not been reversed yet."""
    if legs is None:
        prefetch_related_objects(
            [entry], Prefetch("postings", queryset=Posting.objects.select_related("account__currency").order_by("id"))
        )
        entry.reversed_by_pk = None
        return TransactionSerializer(entry).data
    postings = [Posting(entry=entry, account=_with_currency(leg.account), amount=leg.amount) for leg in legs]
    entry._prefetched_objects_cache = {"postings": postings}
    entry.reversed_by_pk = None
    try:
        return TransactionSerializer(entry).data
    finally:
        # These postings were built here, unsaved: whoever reads the entry next queries its own.
        del entry._prefetched_objects_cache


def _with_currency(account: Account) -> Account:
    if Account.currency.is_cached(account):
        return account
    # A copy, so the caller's account is left as it was; a currency's scale never changes.
    account = copy.copy(account)
    account.currency = _currency(account.currency_id)
    return account


@lru_cache(maxsize=256)
def _currency(code: str) -> Currency:
    return Currency.objects.get(code=code)
