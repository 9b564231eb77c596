from rest_framework import serializers

from chain.models import ChainDeposit, CryptoWithdrawal, DepositAddress
from chain.services import WithdrawalRequest
from ledger.api.fields import AmountField, AmountsMixin, CurrencyCodeField
from ledger.api.serializers import MetadataField, OwnAccountField


class DepositAddressCreateSerializer(serializers.Serializer):
    currency = CurrencyCodeField()
    network = serializers.SlugField(required=False, max_length=30, help_text="Needed only when several carry it.")


class DepositAddressSerializer(serializers.ModelSerializer):
    """An address of ours assigned to the user; send any of `currencies` on `network` to it."""

    user = serializers.IntegerField(source="user_id", read_only=True)
    network = serializers.CharField(source="network.code", read_only=True)
    currencies = serializers.SerializerMethodField()
    explorer_url = serializers.SerializerMethodField()

    class Meta:
        model = DepositAddress
        fields = ["id", "user", "network", "currencies", "address", "explorer_url", "is_active", "created_at"]
        read_only_fields = fields

    def get_currencies(self, address) -> list[str]:
        return sorted(asset.currency_id for asset in address.network.assets.all())

    def get_explorer_url(self, address) -> str:
        return address.network.address_url(address.address)


class DepositAddressCreatedSerializer(DepositAddressSerializer):
    currency = serializers.SerializerMethodField()

    class Meta(DepositAddressSerializer.Meta):
        fields = [*DepositAddressSerializer.Meta.fields, "currency"]
        read_only_fields = fields

    def get_currency(self, address) -> str:
        return self.context["currency"]


class ChainDepositSerializer(serializers.ModelSerializer):
    """A transfer to a user's deposit address: `pending` with the confirmations so far,
    `credited` (see `transaction`) at the network's threshold, or `dropped` (left the chain)."""

    network = serializers.CharField(source="network.code", read_only=True)
    currency = serializers.CharField(source="currency_id", read_only=True)
    user = serializers.IntegerField(source="user_id", read_only=True)
    address = serializers.CharField(source="deposit_address.address", read_only=True)
    amount = AmountField(read_only=True)
    confirmations_required = serializers.IntegerField(source="network.confirmations_required", read_only=True)
    transaction = serializers.IntegerField(source="entry_id", read_only=True, allow_null=True)
    explorer_url = serializers.CharField(read_only=True)

    class Meta:
        model = ChainDeposit
        fields = ["id", "network", "currency", "user", "address", "amount", "tx_hash", "output_index",
                  "confirmations", "confirmations_required", "status", "transaction", "explorer_url",
                  "detected_at", "credited_at"]
        read_only_fields = fields


class CryptoWithdrawalCreateSerializer(AmountsMixin, serializers.Serializer):
    """Send `amount` of the account's currency to an external `address`; the network fee is added
    and held with it. `network` is needed only when the currency travels on more than one."""

    account = OwnAccountField()
    address = serializers.CharField(max_length=100, trim_whitespace=False)
    amount = AmountField(currency_from="account")
    network = serializers.SlugField(required=False, max_length=30, default=None, allow_null=True)
    reference = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    metadata = MetadataField(required=False, default=dict)

    def to_request(self) -> WithdrawalRequest:
        return WithdrawalRequest(**self.validated_data)


class CryptoWithdrawalSerializer(serializers.ModelSerializer):
    """`total` = `amount` + `network_fee`, held from submission until the transaction is broadcast."""

    account = serializers.IntegerField(source="account_id", read_only=True)
    user = serializers.IntegerField(source="user_id", read_only=True)
    currency = serializers.CharField(source="account.currency_id", read_only=True)
    network = serializers.CharField(source="network.code", read_only=True)
    amount = AmountField(read_only=True, scale_source="account.currency.scale")
    network_fee = AmountField(read_only=True, scale_source="account.currency.scale")
    total = AmountField(read_only=True, scale_source="account.currency.scale")
    transaction = serializers.IntegerField(source="entry_id", read_only=True, allow_null=True)
    compensating_transaction = serializers.IntegerField(
        source="compensating_entry_id", read_only=True, allow_null=True
    )
    explorer_url = serializers.CharField(read_only=True)

    class Meta:
        model = CryptoWithdrawal
        fields = ["id", "status", "account", "user", "currency", "network", "address", "amount", "network_fee",
                  "total", "tx_hash", "explorer_url", "confirmations", "transaction", "compensating_transaction",
                  "reference", "metadata", "created_at", "broadcast_at", "finished_at"]
        read_only_fields = fields
