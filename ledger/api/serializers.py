import contextlib
import copy
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache

from django.conf import settings
from django.db.models import Prefetch, prefetch_related_objects
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import NotFound

from accounts.callers import Caller, CallerKind
from accounts.selectors import user_list
from core.api.fields import ScopedIdField
from core.errors import DomainError, InvalidInputError
from ledger.api.fields import AmountField, AmountsMixin, CurrencyCodeField
from ledger.errors import AccountNotFoundError, InvalidAmountError
from ledger.models import Account, Currency, JournalEntry, Posting
from ledger.money import from_minor_units, to_minor_units
from ledger.selectors import account_find, account_list, account_may_send_from, transfer_accounts_get
from ledger.services import TransferRequest
from ledger.services.legs import Leg

METADATA_MAX_BYTES = 4096


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
    """Documents the reply; `user_balances_represent` renders it."""

    user = serializers.IntegerField()
    as_of = serializers.DateTimeField(required=False, help_text="Present when asked as of an instant.")
    balances = BalanceSerializer(many=True)


_INSTANT = serializers.DateTimeField()


def user_balances_represent(*, user: int, balances: list[dict], as_of: datetime | None = None) -> dict:
    """What UserBalancesSerializer renders, in plain Python: the read clients poll most, where
    DRF's per-request copy of its fields cost more than the query. `balances` as `balance_list`
    gives them. ledger/tests/test_user_balances_representation.py holds it to the serializer."""
    represented: dict = {"user": user}
    if as_of is not None:
        represented["as_of"] = _INSTANT.to_representation(as_of)
    represented["balances"] = [
        {
            "currency": balance["currency"].code,
            "balance": from_minor_units(balance["balance"], scale=balance["currency"].scale),
            "available": from_minor_units(balance["available"], scale=balance["currency"].scale),
        }
        for balance in balances
    ]
    return represented


@extend_schema_field({"type": "string", "format": "date-time", "example": "2026-01-31T23:59:59Z"})
class InstantField(serializers.Field):
    """An ISO 8601 instant with its UTC offset. A datetime without one is refused, never guessed.

    A `+` in a query string arrives as a space unless encoded (%2B): "…T10:00:00 02:00" is read
    as "+02:00"."""

    default_error_messages = {
        "invalid": "An ISO 8601 datetime such as \"2026-01-31T23:59:59Z\" is expected.",
        "naive": (
            "The datetime has no timezone: add \"Z\" or an offset such as \"+02:00\" "
            "(encoded %2B in a query string)."
        ),
    }

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        text = re.sub(r"(T[0-9:.]+) ([0-9]{2}(:?[0-9]{2})?)$", r"\1+\2", data.strip())
        try:
            value = parse_datetime(text)
        except ValueError:
            value = None
        if value is None:
            self.fail("invalid")
        if value.tzinfo is None or value.utcoffset() is None:
            self.fail("naive")
        try:
            return value.astimezone(UTC)  # years 1 and 9999 with an offset can leave the range
        except OverflowError:
            self.fail("invalid")

    def to_representation(self, value):
        return serializers.DateTimeField().to_representation(value)


class BalanceQuerySerializer(serializers.Serializer):
    currency = CurrencyCodeField(required=False)
    as_of = InstantField(required=False, help_text="The balances at this instant (ISO 8601 with offset).")


class AsOfQuerySerializer(serializers.Serializer):
    as_of = InstantField(required=False, help_text="The balance at this instant (ISO 8601 with offset); now if absent.")


class AccountBalanceSerializer(serializers.Serializer):
    account = serializers.IntegerField(source="account.pk")
    currency = serializers.CharField(source="currency.code")
    as_of = serializers.DateTimeField()
    balance = AmountField()
    available = AmountField(help_text="balance minus the holds active at that instant.")


class StatementQuerySerializer(serializers.Serializer):
    # `from` is a Python keyword: the fields are renamed in __init__.
    start = InstantField(help_text="Start of the period (inclusive), ISO 8601 with offset.")
    end = InstantField(required=False, help_text="End of the period (exclusive), ISO 8601 with offset; now if absent.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["from"] = self.fields.pop("start")
        self.fields["to"] = self.fields.pop("end")

    def validate(self, attrs):
        if "end" in attrs and attrs["start"] > attrs["end"]:
            raise serializers.ValidationError({"to": ["`to` must not be before `from`."]}, code="invalid_period")
        return attrs


class StatementEntrySerializer(serializers.Serializer):
    sequence = serializers.IntegerField()
    posted_at = serializers.DateTimeField()
    entry = serializers.IntegerField(source="entry_id")
    kind = serializers.CharField(source="entry.kind")
    reference = serializers.CharField(source="entry.reference")
    amount = AmountField(scale_source="account.currency.scale", help_text="Signed: negative debits the account.")
    balance_after = AmountField(scale_source="account.currency.scale")

    csv_header = ["sequence", "posted_at", "entry", "kind", "reference", "amount", "balance_after"]


class StatementSerializer(serializers.Serializer):
    account = serializers.IntegerField(source="account.pk")
    currency = serializers.CharField(source="currency.code")
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    opening_balance = AmountField()
    closing_balance = AmountField()
    total_credits = AmountField()
    total_debits = AmountField(help_text="Positive: the sum of the debits' absolute values.")

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["from"], data["to"] = data.pop("start"), data.pop("end")
        return data


class TrialBalanceLineSerializer(serializers.Serializer):
    client = serializers.IntegerField(source="client_id")
    client_name = serializers.CharField()
    currency = serializers.CharField()
    funding = AmountField(scale_source="scale")
    fee_revenue = AmountField(scale_source="scale")
    inventory = AmountField(scale_source="scale")
    other_system = AmountField(source="other", scale_source="scale")
    users = AmountField(scale_source="scale", help_text="The sum of the client's user accounts.")
    total = AmountField(scale_source="scale", help_text="Zero when the ledger is sound.")


def _own_accounts(caller):
    return account_list(caller=caller)


class OwnAccountField(ScopedIdField):
    """An account the caller may see (`account_list`), found by `account_find`: one statement
    compiled once per process, on every deposit and withdrawal."""

    def __init__(self, **kwargs):
        super().__init__(find=_own_account_find, not_found="Account not found.", **kwargs)


def _own_account_find(caller, pk: int) -> Account | None:
    return account_find(caller=caller, account_id=pk)


class MovementSerializer(AmountsMixin, serializers.Serializer):
    """A deposit or a withdrawal on one account the caller may see."""

    account = OwnAccountField()
    amount = AmountField(currency_from="account")
    reference = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    metadata = MetadataField(required=False, default=dict)


class AccountIdField(ScopedIdField):
    """An account id, resolved by its serializer together with the other accounts of the request
    (one query for the two sides of a transfer, or for a whole batch)."""

    def __init__(self, **kwargs):
        super().__init__(queryset_for=_own_accounts, not_found="Account not found.", **kwargs)

    def to_internal_value(self, data):
        return self.parse_id(data)


class TransferCreateSerializer(AmountsMixin, serializers.Serializer):
    """Both accounts are loaded in one query (`transfer_accounts_get`): the sender must be one the
    caller may send from, the recipient any user account of its client; anything else is 404.
    A serializer for many transfers passes `context["accounts"]`, loaded once for all of them."""

    from_account = AccountIdField()
    to_account = AccountIdField()
    amount = AmountField(currency_from="from_account")
    reference = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    metadata = MetadataField(required=False, default=dict)

    def validate(self, attrs):
        caller = self.context["request"].auth
        accounts = self.context.get("accounts")
        if accounts is None:
            accounts = transfer_accounts_get(caller=caller, ids=[attrs["from_account"], attrs["to_account"]])
        sender = accounts.get(attrs["from_account"])
        recipient = accounts.get(attrs["to_account"])
        if sender is None or not account_may_send_from(caller=caller, account=sender) or recipient is None:
            raise NotFound("Account not found.")
        return super().validate({**attrs, "from_account": sender, "to_account": recipient})


class TransferBatchSerializer(serializers.Serializer):
    """`{"transfers": [...], "atomic": true}`. The envelope is validated here (a malformed one is a
    400, like any request); the items by `transfer_requests()`, each on its own, so that a bad
    item is refused alone (or, all or none, refuses the batch at its index)."""

    transfers = serializers.ListField(
        child=serializers.DictField(), allow_empty=False,
        help_text="Each as POST /transfers/ takes it: from_account, to_account, amount, reference?, metadata?. "
        "At most TRANSFER_BATCH_MAX_ITEMS (1,000 by default).",
    )
    atomic = serializers.BooleanField(
        default=True, help_text="true: all or none (422 naming the first refused index); false: each on its own (207)."
    )

    def validate_transfers(self, value):
        limit = settings.TRANSFER_BATCH_MAX_ITEMS
        if len(value) > limit:
            raise serializers.ValidationError(f"At most {limit} transfers per batch.", code="too_many_transfers")
        return value

    def transfer_requests(self) -> list[TransferRequest | DomainError]:
        """Each item as a TransferRequest, or the error that refuses it. The accounts of every item
        are loaded in one query."""
        caller = self.context["request"].auth
        items = self.validated_data["transfers"]
        id_field = AccountIdField()
        ids = set()
        for item in items:
            for name in ("from_account", "to_account"):
                with contextlib.suppress(serializers.ValidationError):  # the item's own validation reports it
                    ids.add(id_field.parse_id(item.get(name)))
        context = {**self.context, "accounts": transfer_accounts_get(caller=caller, ids=ids)}
        return [_transfer_request(item, context) for item in items]


def _transfer_request(item: dict, context: dict) -> TransferRequest | DomainError:
    plain = _transfer_request_plain(item, context)
    if plain is not None:
        return plain
    serializer = TransferCreateSerializer(data=item, context=context)
    try:
        if serializer.is_valid():
            return TransferRequest(**serializer.validated_data)
    except NotFound:
        return AccountNotFoundError("Account not found.")
    errors = serializer.errors
    codes = {getattr(message, "code", None) for messages in errors.values() for message in messages}
    error_class = InvalidAmountError if "invalid_amount" in codes else InvalidInputError
    return error_class("The transfer has invalid fields.", errors=errors)



_ID_FIELD = AccountIdField()
_AMOUNT_FIELD = AmountField()
_METADATA_FIELD = MetadataField()
_REFERENCE_MAX_LENGTH = TransferCreateSerializer._declared_fields["reference"].max_length  # type: ignore[attr-defined]


def _transfer_request_plain(item: dict, context: dict) -> TransferRequest | DomainError | None:
    """A batch item as TransferCreateSerializer would validate it, without building a serializer
    per item (its field machinery cost more per item than posting it): the same field checks,
    in the same functions, on the common shapes of input. None when the item is anything but
    plainly valid or plainly not found (a missing or malformed field, a reference that is not
    plain ASCII, an amount the currency refuses): the serializer then decides, and words the
    error, exactly as it always has. `test_api_transfer_batches` holds the two to the same result.
    """
    try:
        from_id = _ID_FIELD.parse_id(item["from_account"])
        to_id = _ID_FIELD.parse_id(item["to_account"])
        amount = _AMOUNT_FIELD.to_internal_value(item["amount"])
        metadata = _METADATA_FIELD.to_internal_value(item["metadata"]) if "metadata" in item else {}
    except (KeyError, serializers.ValidationError):
        return None
    reference = item.get("reference", "")
    # CharField(trim_whitespace, max_length): NUL and surrogates are refused, so only plain ASCII here.
    if not isinstance(reference, str) or not reference.isascii() or "\x00" in reference:
        return None
    reference = reference.strip()
    if len(reference) > _REFERENCE_MAX_LENGTH:
        return None
    caller = context["request"].auth
    sender = context["accounts"].get(from_id)
    recipient = context["accounts"].get(to_id)
    if sender is None or not account_may_send_from(caller=caller, account=sender) or recipient is None:
        return AccountNotFoundError("Account not found.")
    try:
        minor_units = to_minor_units(amount, scale=sender.currency.scale)
    except InvalidAmountError:
        return None
    return TransferRequest(
        from_account=sender, to_account=recipient, amount=minor_units, reference=reference, metadata=metadata
    )


def transfer_request_parse(data, *, context: dict) -> TransferRequest:
    """A POST /transfers/ body as a TransferRequest, validated as TransferCreateSerializer does:
    a JSON object goes the way of a batch item (`_transfer_request_plain`, one query for both
    accounts) and anything that way cannot decide goes to the serializer, which refuses it with
    the error it always gave (ValidationError, or NotFound for an account the caller may not use).
    `tests/test_api_bad_input.py` and `test_api_transfer_batches` hold the two ways together."""
    if type(data) is dict:
        ids = []
        for name in ("from_account", "to_account"):
            with contextlib.suppress(serializers.ValidationError, TypeError):
                ids.append(_ID_FIELD.parse_id(data.get(name)))
        # Loaded once: the serializer below finds them in its context.
        context = {**context, "accounts": transfer_accounts_get(caller=context["request"].auth, ids=ids)}
        plain = _transfer_request_plain(data, context)
        if isinstance(plain, TransferRequest):
            return plain
    serializer = TransferCreateSerializer(data=data, context=context)
    serializer.is_valid(raise_exception=True)
    return TransferRequest(**serializer.validated_data)


class TransferBatchRequestSchema(serializers.Serializer):
    """The batch request as documented (parsed by TransferBatchSerializer)."""

    transfers = TransferCreateSerializer(many=True)
    atomic = serializers.BooleanField(default=True)

    class Meta:
        ref_name = "TransferBatchRequest"


class ReverseSerializer(serializers.Serializer):
    reference = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    metadata = MetadataField(required=False, default=dict)


class _OnlyForWhoMaySeeTheAccount:
    """Renders the value only for whoever may see that account's balance and history: an end user
    its own accounts, a client (key or staff) its users' accounts, platform staff every account.
    Null for anyone else (the other party of a transfer) and when no caller is known."""

    def get_attribute(self, instance):
        request = self.context.get("request")
        caller = getattr(request, "auth", None)
        if not isinstance(caller, Caller) or not _may_see_balance(caller, instance.account):
            return None
        return super().get_attribute(instance)


class VisibleBalanceAfterField(_OnlyForWhoMaySeeTheAccount, AmountField):
    pass


class VisibleSequenceField(_OnlyForWhoMaySeeTheAccount, serializers.IntegerField):
    pass


def _may_see_balance(caller: Caller, account: Account) -> bool:
    if caller.is_platform_staff:
        return True
    if account.client_id != caller.client_id or account.kind != Account.Kind.USER:
        return False
    return not caller.is_end_user or account.user_id == caller.end_user_id


class PostingSerializer(serializers.Serializer):
    account = serializers.IntegerField(source="account_id")
    account_kind = serializers.CharField(source="account.kind")
    currency = serializers.CharField(source="account.currency_id")
    amount = AmountField(scale_source="account.currency.scale", help_text="Signed: negative debits the account.")
    sequence = VisibleSequenceField(
        allow_null=True,
        help_text="The posting's place among the account's postings (1, 2, 3 …); null like balance_after.",
    )
    balance_after = VisibleBalanceAfterField(
        scale_source="account.currency.scale",
        allow_null=True,
        help_text="The account's balance right after this posting; null unless the caller may see that account.",
    )


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

    # The fields above document the shape (OpenAPI); `transaction_represent` builds it.
    def to_representation(self, instance) -> dict:
        request = self.context.get("request")
        return transaction_represent(instance, caller=getattr(request, "auth", None))

    # The method fields' types, for the schema only: to_representation never calls them.
    def get_currency(self, entry) -> str | None:
        raise NotImplementedError

    def get_amount(self, entry) -> str | None:
        raise NotImplementedError

    def get_from_account(self, entry) -> int | None:
        raise NotImplementedError

    def get_to_account(self, entry) -> int | None:
        raise NotImplementedError


def transaction_represent(entry: JournalEntry, *, caller: object) -> dict:
    """A journal entry as TransactionSerializer documents it, seen by `caller` (running balances
    only on the accounts it may see), from `entry.postings` with their accounts and currencies
    loaded (prefetched, or left by `entry_post`) and `entry.reversed_by_pk`.

    Plain Python rather than DRF fields: every transaction the API returns or an event carries
    is built here, and DRF's per-field machinery cost more than the ledger's own statements on
    the money path. `ledger/tests/test_transaction_representation.py` holds it to what the
    field-by-field serializer produced.
    """
    postings = list(entry.postings.all())
    currencies = {posting.account.currency_id for posting in postings}
    single_currency = len(currencies) == 1
    rendered_postings = []
    credited = 0
    from_accounts: set[int] = set()
    to_accounts: set[int] = set()
    for posting in postings:
        account = posting.account
        scale = account.currency.scale
        visible = isinstance(caller, Caller) and _may_see_balance(caller, account)
        if posting.amount > 0:
            credited += posting.amount
        if account.kind == Account.Kind.USER:
            (from_accounts if posting.amount < 0 else to_accounts).add(posting.account_id)
        rendered_postings.append(
            {
                "account": posting.account_id,
                "account_kind": account.kind,
                "currency": account.currency_id,
                "amount": from_minor_units(posting.amount, scale=scale),
                "sequence": posting.sequence if visible else None,
                "balance_after": (
                    from_minor_units(posting.balance_after, scale=scale)
                    if visible and posting.balance_after is not None
                    else None
                ),
            }
        )
    currency = postings[0].account.currency if single_currency else None
    created_at = entry.created_at.astimezone(UTC).isoformat()
    return {
        "id": entry.pk,
        "kind": entry.kind,
        "currency": currency.code if currency is not None else None,
        "amount": from_minor_units(credited, scale=currency.scale) if currency is not None else None,
        "from_account": next(iter(from_accounts)) if len(from_accounts) == 1 else None,
        "to_account": next(iter(to_accounts)) if len(to_accounts) == 1 else None,
        "reference": entry.reference,
        "metadata": entry.metadata,
        "reverses": entry.reverses_id,
        "reversed_by": entry.reversed_by_pk,  # type: ignore[attr-defined]  # annotated by the selectors
        "created_at": created_at[:-6] + "Z" if created_at.endswith("+00:00") else created_at,
        "postings": rendered_postings,
    }


class TransferBatchItemSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    status = serializers.IntegerField(help_text="201 applied; otherwise the status a single transfer would get.")
    transaction = TransactionSerializer(required=False, help_text="When applied.")
    error = serializers.DictField(required=False, child=serializers.JSONField(), help_text="When refused: a problem.")


class TransferBatchResultSerializer(serializers.Serializer):
    results = TransferBatchItemSerializer(many=True)


def transaction_render_posted(entry: JournalEntry, *, legs: Sequence[Leg] | None = None) -> dict:
    """A just-posted entry as GET /transactions/{id}/ renders it to its client's API key (running
    balances of its users' accounts, not of system accounts), for its `transaction.created`
    event. From the postings `entry_post` left on the entry, without a query (`legs` is the
    same information, and unused); or else one query for its postings. A new entry has not been
    reversed yet."""
    if "postings" in getattr(entry, "_prefetched_objects_cache", {}):
        for posting in entry.postings.all():
            posting.account = _with_currency(posting.account)
    else:
        prefetch_related_objects(
            [entry], Prefetch("postings", queryset=Posting.objects.select_related("account__currency").order_by("id"))
        )
    entry.reversed_by_pk = None  # type: ignore[attr-defined]
    return transaction_represent(entry, caller=Caller(kind=CallerKind.API_KEY, client_id=entry.client_id))


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
