from rest_framework import serializers

from ledger.api.fields import AmountField
from operations.models import PendingWithdrawal


class PendingWithdrawalSerializer(serializers.ModelSerializer):
    """A withdrawal held for compliance review. `transaction` is the withdrawal's journal entry,
    null until it is approved; a rejected one never moves money (its amount is available again)."""

    account = serializers.IntegerField(source="account_id", read_only=True)
    amount = AmountField(read_only=True, scale_source="account.currency.scale")
    transaction = serializers.IntegerField(source="entry_id", read_only=True, allow_null=True)

    class Meta:
        model = PendingWithdrawal
        fields = ["id", "status", "account", "amount", "reference", "metadata", "transaction", "created_at",
                  "decided_at"]
        read_only_fields = fields
