"""Currencies, accounts, journal entries, postings, holds and currency authorizations.

Amounts are integers in the currency's minor units (BigIntegerField): SQLite would store a
DecimalField as a float. `ledger.money` converts between them and decimal strings.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class Currency(models.Model):
    """A currency the ledger holds. `scale` is how many decimal places the ledger keeps.

    The scale is a ledger choice, not always the chain's native precision: it must fit
    2**63-1 minor units for any realistic balance. ETH is kept at 9 places (gwei) rather than 18
    (wei) because 18 places would cap a 64-bit balance at about 9.2 ETH.
    """

    class Kind(models.TextChoices):
        CRYPTO = "crypto", "Crypto"
        FIAT = "fiat", "Fiat"

    code = models.CharField(max_length=10, primary_key=True)
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    scale = models.PositiveSmallIntegerField()
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "currencies"
        constraints = [
            models.CheckConstraint(condition=Q(scale__lte=18), name="ledger_currency_scale_range"),
            models.CheckConstraint(condition=Q(code__regex=r"^[A-Z0-9]{2,10}$"), name="ledger_currency_code_format"),
        ]

    def __str__(self) -> str:
        return self.code


class Account(models.Model):
    """One balance in one currency: a user's, or one of a client's system accounts.

    `held` is the part of the balance reserved by active holds (open orders, pending reviews);
    `available = balance - held`. Both change only through ledger services.
    """

    class Kind(models.TextChoices):
        USER = "user", "User"
        FUNDING = "funding", "Client funding (external)"
        FEE_REVENUE = "fee_revenue", "Fee revenue"
        INVENTORY = "inventory", "Inventory"
        CUSTODY = "custody", "Custody (on-chain wallets)"

    client = models.ForeignKey("accounts.Client", on_delete=models.PROTECT, related_name="accounts")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="accounts"
    )
    currency = models.ForeignKey(Currency, on_delete=models.PROTECT, related_name="accounts")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.USER)
    balance = models.BigIntegerField(default=0)
    held = models.BigIntegerField(default=0)
    allows_negative = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    # The sequence number of the account's latest posting (0: none yet). Incremented by the same
    # UPDATE that applies a posting, so postings of one account are totally ordered.
    sequence = models.BigIntegerField(default=0, db_default=0)
    # PostgreSQL: the time of the latest hold opened or released on the account, written by the
    # same UPDATE that moves `held` (ledger.services.holds). The posting function stamps an entry
    # no earlier than it: a posting that waited for the row behind a hold's change is stamped
    # after that change, so "holds active at t" agrees with each posting's `held_after`. (SQLite
    # reads the clock after its write lock and leaves it empty.)
    holds_changed_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(sequence__gte=0), name="ledger_account_sequence_non_negative"),
            models.UniqueConstraint(
                fields=["user", "currency"],
                condition=Q(user__isnull=False),
                name="ledger_account_one_per_user_currency",
            ),
            models.UniqueConstraint(
                fields=["client", "currency", "kind"],
                condition=Q(user__isnull=True),
                name="ledger_account_one_system_account_per_kind",
            ),
            models.CheckConstraint(
                condition=(Q(kind="user") & Q(user__isnull=False)) | (~Q(kind="user") & Q(user__isnull=True)),
                name="ledger_account_user_matches_kind",
            ),
            models.CheckConstraint(
                condition=Q(kind="user", allows_negative=False) | ~Q(kind="user"),
                name="ledger_account_user_never_negative",
            ),
            models.CheckConstraint(
                condition=Q(balance__gte=0) | Q(allows_negative=True), name="ledger_account_balance_non_negative"
            ),
            models.CheckConstraint(condition=Q(held__gte=0), name="ledger_account_held_non_negative"),
            models.CheckConstraint(
                condition=Q(held__lte=F("balance")) | Q(allows_negative=True), name="ledger_account_held_within_balance"
            ),
        ]
        # No index on balance, held or sequence: the UPDATE that applies a posting then changes only
        # unindexed columns, and PostgreSQL can write it heap-only (HOT), with no new entry in any
        # of the indexes above; one index holding them costs an entry in each, on every posting.

    def __str__(self) -> str:
        owner = f"user {self.user_id}" if self.user_id else f"{self.kind} of client {self.client_id}"
        return f"{self.currency_id} account {self.pk} ({owner})"

    @property
    def available(self) -> int:
        return self.balance - self.held


class JournalEntry(models.Model):
    """One balanced movement of money. Immutable once written; undone only by a reversing entry."""

    class Kind(models.TextChoices):
        DEPOSIT = "deposit", "Deposit"
        WITHDRAWAL = "withdrawal", "Withdrawal"
        TRANSFER = "transfer", "Transfer"
        REVERSAL = "reversal", "Reversal"
        TRADE = "trade", "Trade"
        CONVERSION = "conversion", "Conversion"
        FEE = "fee", "Fee"
        ADJUSTMENT = "adjustment", "Adjustment"

    # Indexed by (client, kind, created_at) below, which leads with the client.
    client = models.ForeignKey(
        "accounts.Client", on_delete=models.PROTECT, related_name="journal_entries", db_index=False
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    reference = models.CharField(max_length=200, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    # One-to-one: the database itself allows an entry to be reversed at most once.
    reverses = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_by"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "journal entries"
        # Written by every movement, like the postings' (tests/test_index_plans.py): a client's journal
        # (by kind, over a period), the whole journal newest first (admin); `reverses` is unique.
        indexes = [models.Index(fields=["client", "kind", "created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"


class Posting(models.Model):
    """One leg of a journal entry: a signed amount (minor units) on one account.

    The postings of an entry sum to zero per currency; on PostgreSQL a deferred constraint
    trigger enforces it at commit (migration 0003).

    Each posting is self-describing: `sequence` is its place among the account's postings
    (1, 2, 3 … with no gap), `balance_after` and `held_after` the account's balance and held
    amount right after it, as returned by the UPDATE that applied it. `posted_at` is the entry's
    `created_at`, copied so that "the balance as of t" is one probe of the index
    (account, posted_at, sequence).
    """

    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="postings")
    # Indexed by the unique (account, sequence) and the indexes below, which all lead with it.
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="postings", db_index=False)
    amount = models.BigIntegerField()
    sequence = models.BigIntegerField()
    balance_after = models.BigIntegerField()
    held_after = models.BigIntegerField()
    posted_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="ledger_posting_amount_non_zero"),
            models.CheckConstraint(condition=Q(sequence__gte=1), name="ledger_posting_sequence_positive"),
            models.CheckConstraint(condition=Q(held_after__gte=0), name="ledger_posting_held_after_non_negative"),
            models.UniqueConstraint(fields=["account", "sequence"], name="ledger_posting_account_sequence_unique"),
        ]
        # Every index here is written by every posting: each is there for the read named beside it
        # (tests/test_index_plans.py). The unique (account, sequence) also serves statement pages,
        # verification and any read of one account's postings.
        indexes = [
            # An account's history, newest entry first: pages are read from here (ledger.selectors).
            models.Index(fields=["account", "-entry"], name="ledger_posting_account_entry"),
            # The balance as of an instant: one backward probe (ledger.history, ledger_snapshot).
            models.Index(fields=["account", "posted_at", "sequence"], name="ledger_posting_account_asof"),
        ]

    def __str__(self) -> str:
        return f"{self.amount:+d} on account {self.account_id}"


class Hold(models.Model):
    """Funds reserved on an account (for an open order or a withdrawal under review).

    A hold is released (funds available again) or captured (consumed by a journal entry) exactly
    once: the status moves from active with a guarded update.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        RELEASED = "released", "Released"
        CAPTURED = "captured", "Captured"

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="holds")
    amount = models.BigIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    reason = models.CharField(max_length=200, blank=True)
    # On PostgreSQL `hold_create` sets it to the time it writes to the account's `holds_changed_at`.
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="ledger_hold_amount_positive")]
        indexes = [
            models.Index(fields=["account", "status"]),
            # Holds active at an instant t: created_at <= t < closed_at (or still open).
            models.Index(fields=["account", "closed_at"], name="ledger_hold_account_closed"),
        ]

    def __str__(self) -> str:
        return f"hold {self.pk}: {self.amount} on account {self.account_id} ({self.status})"


class CurrencyAuthorization(models.Model):
    """A user may transact a currency only while authorized for it (the settlement currency always)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="currency_authorizations")
    currency = models.ForeignKey(Currency, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["currency_id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "currency"], name="ledger_currencyauthorization_unique")
        ]

    def __str__(self) -> str:
        return f"user {self.user_id} may transact {self.currency_id}"


class BalanceSnapshot(models.Model):
    """An account's closing balance at the end of one day (`as_of`: the first instant of the next
    day in the snapshot timezone), written by `ledger_snapshot` and never changed.

    `sequence` is that of the account's last posting before `as_of` (0: none), so
    `verify_ledger` can check the snapshot against the running balances.
    """

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="snapshots")
    date = models.DateField()
    as_of = models.DateTimeField()
    balance = models.BigIntegerField()
    sequence = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-date", "account_id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "date"], name="ledger_balancesnapshot_one_per_account_day")
        ]
        indexes = [models.Index(fields=["date"], name="ledger_balancesnapshot_date")]

    def __str__(self) -> str:
        return f"account {self.account_id} closed {self.date} at {self.balance}"


class LedgerVerification(models.Model):
    """The outcome of each `verify_ledger` run (exported as a metric, shown on the dashboard)."""

    ran_at = models.DateTimeField(auto_now_add=True)
    is_ok = models.BooleanField()
    accounts_checked = models.PositiveIntegerField()
    entries_checked = models.PositiveIntegerField()
    violations = models.JSONField(default=list)

    class Meta:
        ordering = ["-ran_at"]

    def __str__(self) -> str:
        return f"verification {self.ran_at:%Y-%m-%d %H:%M} {'ok' if self.is_ok else 'FAILED'}"
