"""Networks, the custody adapters' records: deposit addresses, deposits seen on chain, withdrawals
to external addresses, and custody reconciliation runs.

Amounts are ledger minor units of the currency (BigIntegerField). A chain's own base unit can be
finer than the ledger's scale (wei vs gwei): `NetworkAsset.chain_decimals` says how much, and a
deposit keeps what the ledger cannot hold in `dust` (chain base units), visibly, never rounded away.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


class Network(models.Model):
    """A blockchain the platform holds coins on, and the custody adapter that serves it (data,
    editable in admin)."""

    class AddressKind(models.TextChoices):
        ETHEREUM = "ethereum", "Ethereum (EIP-55 checksum)"
        BITCOIN = "bitcoin", "Bitcoin mainnet (base58check, bech32/bech32m)"
        BITCOIN_TESTNET = "bitcoin_testnet", "Bitcoin testnet (base58check, bech32/bech32m)"

    code = models.SlugField(max_length=30, unique=True)
    name = models.CharField(max_length=100)
    address_kind = models.CharField(max_length=20, choices=AddressKind.choices)
    adapter = models.CharField(
        max_length=200, help_text="Dotted path of the custody adapter class (chain.adapters…)."
    )
    confirmations_required = models.PositiveIntegerField(
        default=12, help_text="Confirmations before a deposit is credited or a withdrawal is final."
    )
    explorer_tx_url = models.CharField(
        max_length=300, blank=True, help_text="Transaction page; {tx_hash} is replaced."
    )
    explorer_address_url = models.CharField(
        max_length=300, blank=True, help_text="Address page; {address} is replaced."
    )
    scan_cursor = models.BigIntegerField(
        default=0, help_text="Next block the watcher scans (it re-reads recent blocks for reorgs)."
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        constraints = [models.CheckConstraint(condition=Q(scan_cursor__gte=0), name="chain_network_cursor_positive")]

    def __str__(self) -> str:
        return self.code

    def tx_url(self, tx_hash: str) -> str:
        return self.explorer_tx_url.replace("{tx_hash}", tx_hash) if self.explorer_tx_url and tx_hash else ""

    def address_url(self, address: str) -> str:
        return self.explorer_address_url.replace("{address}", address) if self.explorer_address_url else ""


class NetworkAsset(models.Model):
    """A currency carried by a network: its native coin (no contract) or a token contract."""

    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="assets")
    currency = models.ForeignKey("ledger.Currency", on_delete=models.PROTECT, related_name="network_assets")
    contract_address = models.CharField(max_length=100, blank=True, help_text="Empty for the native coin.")
    chain_decimals = models.PositiveSmallIntegerField(help_text="Decimals of the chain's base unit (ETH 18).")
    withdrawal_fee = models.BigIntegerField(
        default=0, help_text="Network fee charged per withdrawal, minor units (the floor under an estimate)."
    )

    class Meta:
        ordering = ["network", "currency"]
        constraints = [
            models.UniqueConstraint(fields=["network", "currency"], name="chain_networkasset_unique"),
            models.CheckConstraint(condition=Q(withdrawal_fee__gte=0), name="chain_networkasset_fee_non_negative"),
            models.CheckConstraint(condition=Q(chain_decimals__lte=36), name="chain_networkasset_decimals_range"),
        ]

    def __str__(self) -> str:
        return f"{self.currency_id} on {self.network.code}"

    @property
    def is_native(self) -> bool:
        return not self.contract_address


class DepositAddress(models.Model):
    """An address of ours on a network, assigned to one end user. Derived from the HD seed
    (`derivation_index`) or loaded from a custodian's file (no index; unassigned until a user
    asks). One active address per user per network."""

    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="deposit_addresses")
    client = models.ForeignKey(
        "accounts.Client", on_delete=models.PROTECT, null=True, blank=True, related_name="deposit_addresses"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="deposit_addresses"
    )
    address = models.CharField(max_length=100)
    derivation_index = models.PositiveIntegerField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    assigned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "deposit addresses"
        constraints = [
            models.UniqueConstraint(fields=["network", "address"], name="chain_depositaddress_unique_address"),
            models.UniqueConstraint(
                fields=["network", "derivation_index"], condition=Q(derivation_index__isnull=False),
                name="chain_depositaddress_unique_index",
            ),
            models.UniqueConstraint(
                fields=["user", "network"], condition=Q(is_active=True, user__isnull=False),
                name="chain_depositaddress_one_active_per_user",
            ),
            models.CheckConstraint(
                condition=Q(user__isnull=True) | Q(client__isnull=False), name="chain_depositaddress_user_has_client"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.address} ({self.network.code})"


class ChainDeposit(models.Model):
    """A transfer to one of our addresses seen on chain; credited exactly once at the threshold.

    Identified by (network, currency, tx hash, output/log index): the watcher may see it many
    times, the unique constraint and the status guard book it once.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending confirmations"
        CREDITED = "credited", "Credited"
        DROPPED = "dropped", "Dropped (left the chain before the threshold)"
        BELOW_PRECISION = "below_precision", "Below the ledger's precision (not credited)"

    client = models.ForeignKey("accounts.Client", on_delete=models.PROTECT, related_name="chain_deposits")
    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="deposits")
    currency = models.ForeignKey("ledger.Currency", on_delete=models.PROTECT, related_name="+")
    tx_hash = models.CharField(max_length=100)
    output_index = models.PositiveIntegerField(help_text="Log index (tokens), output index (UTXO), 0 for ether.")
    deposit_address = models.ForeignKey(DepositAddress, on_delete=models.PROTECT, related_name="deposits")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="chain_deposits")
    account = models.ForeignKey(
        "ledger.Account", on_delete=models.PROTECT, null=True, blank=True, related_name="chain_deposits"
    )
    amount = models.BigIntegerField(help_text="Minor units credited (the chain amount at the ledger's scale).")
    dust = models.BigIntegerField(default=0, help_text="Chain base units finer than the ledger keeps.")
    block_number = models.BigIntegerField(null=True, blank=True)
    confirmations = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    entry = models.OneToOneField(
        "ledger.JournalEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="chain_deposit"
    )
    detected_at = models.DateTimeField(auto_now_add=True, db_index=True)
    credited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["network", "currency", "tx_hash", "output_index"], name="chain_chaindeposit_once_per_output"
            ),
            models.CheckConstraint(condition=Q(amount__gte=0) & Q(dust__gte=0), name="chain_chaindeposit_amount_range"),
            models.CheckConstraint(
                condition=(Q(status="credited") & Q(entry__isnull=False) & Q(amount__gt=0))
                | (~Q(status="credited") & Q(entry__isnull=True)),
                name="chain_chaindeposit_credited_has_entry",
            ),
        ]
        indexes = [models.Index(fields=["network", "status"])]

    def __str__(self) -> str:
        return f"deposit {self.tx_hash}:{self.output_index} ({self.status})"

    @property
    def explorer_url(self) -> str:
        return self.network.tx_url(self.tx_hash)


class CryptoWithdrawal(models.Model):
    """Coins leaving to an external address.

    `amount + network_fee` is held at submission. The signed transaction (or, for manual
    custody, the hash staff record) is stored before it is broadcast, together with the journal
    entry that captures the hold; a retry re-broadcasts the stored transaction, never a new one.
    A transaction that fails on chain is undone by `compensating_entry`.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PENDING_REVIEW = "pending_review", "Pending compliance review"
        BROADCASTING = "broadcasting", "Signed, being broadcast"
        BROADCAST = "broadcast", "Broadcast"
        CONFIRMED = "confirmed", "Confirmed"
        FAILED = "failed", "Failed"
        REJECTED = "rejected", "Rejected"
        CANCELLED = "cancelled", "Cancelled"

    client = models.ForeignKey("accounts.Client", on_delete=models.PROTECT, related_name="crypto_withdrawals")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="crypto_withdrawals")
    account = models.ForeignKey("ledger.Account", on_delete=models.PROTECT, related_name="crypto_withdrawals")
    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="withdrawals")
    address = models.CharField(max_length=100)
    amount = models.BigIntegerField(help_text="Minor units sent to the address.")
    network_fee = models.BigIntegerField(help_text="Minor units charged for the network fee (to fee revenue).")
    hold = models.OneToOneField("ledger.Hold", on_delete=models.PROTECT, related_name="crypto_withdrawal")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    reference = models.CharField(max_length=200, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    source_address = models.CharField(max_length=100, blank=True)
    nonce = models.BigIntegerField(null=True, blank=True)
    signed_tx = models.TextField(blank=True, help_text="The signed raw transaction (public once broadcast).")
    tx_hash = models.CharField(max_length=100, blank=True)
    block_number = models.BigIntegerField(null=True, blank=True)
    confirmations = models.PositiveIntegerField(default=0)
    gas_paid = models.BigIntegerField(
        null=True, blank=True, help_text="Minor units of the network's native coin the transaction consumed."
    )
    entry = models.OneToOneField(
        "ledger.JournalEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="crypto_withdrawal"
    )
    gas_entry = models.OneToOneField(
        "ledger.JournalEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    compensating_entry = models.OneToOneField(
        "ledger.JournalEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    failure_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    broadcast_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        permissions = [
            ("operate_cryptowithdrawal", "Can record broadcasts and confirmations of crypto withdrawals"),
            ("decide_cryptowithdrawal", "Can approve and reject crypto withdrawals held for review"),
        ]
        indexes = [models.Index(fields=["network", "status"])]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="chain_cryptowithdrawal_amount_positive"),
            models.CheckConstraint(condition=Q(network_fee__gte=0), name="chain_cryptowithdrawal_fee_non_negative"),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "pending_review", "rejected", "cancelled"], entry__isnull=True)
                | (~Q(status__in=["pending", "pending_review", "rejected", "cancelled"]) & Q(entry__isnull=False)),
                name="chain_cryptowithdrawal_sent_has_entry",
            ),
            models.CheckConstraint(
                condition=Q(compensating_entry__isnull=True) | Q(status="failed"),
                name="chain_cryptowithdrawal_compensated_only_when_failed",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "pending_review", "rejected", "cancelled"])
                | ~Q(tx_hash="") | Q(status="failed"),
                name="chain_cryptowithdrawal_sent_has_tx_hash",
            ),
            models.UniqueConstraint(
                fields=["network", "source_address", "nonce"], condition=Q(nonce__isnull=False),
                name="chain_cryptowithdrawal_one_tx_per_nonce",
            ),
        ]

    def __str__(self) -> str:
        return f"crypto withdrawal {self.pk}: {self.amount} to {self.address} ({self.status})"

    @property
    def total(self) -> int:
        return self.amount + self.network_fee

    @property
    def explorer_url(self) -> str:
        return self.network.tx_url(self.tx_hash)


class CustodyReconciliation(models.Model):
    """One `reconcile_custody` run: per currency, what our addresses hold on chain against the
    ledger's custody accounts (shown on the dashboard)."""

    ran_at = models.DateTimeField(auto_now_add=True)
    is_ok = models.BooleanField()
    lines = models.JSONField(default=list)

    class Meta:
        ordering = ["-ran_at"]

    def __str__(self) -> str:
        return f"custody reconciliation {self.ran_at:%Y-%m-%d %H:%M} {'ok' if self.is_ok else 'DIFFERS'}"
