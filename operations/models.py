"""Compliance rules, the review queue, withdrawals held for review, and the back-office permissions."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class BackOffice(models.Model):
    """No table: the anchor for back-office permissions that belong to no single model."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("post_adjustment", "Can post ledger adjustments"),
            ("reverse_transfer", "Can reverse transfers"),
            ("freeze_user", "Can freeze and unfreeze users"),
            ("view_dashboard", "Can view the operations dashboard"),
        ]


class ComplianceRule(models.Model):
    """A rule evaluated on every journal entry that touches a user's account.

    Amounts are valued in the settlement currency at the broker's current rate and compared with
    `threshold_usd` (minor units). Only when no rate is known for a currency is `threshold_minor`
    used instead (in the rule currency's own minor units, so the rule must name its currency).
    """

    class Kind(models.TextChoices):
        LARGE_MOVEMENT = "large_movement", "Single movement above a threshold"
        VELOCITY = "velocity", "Too many movements per user in a window"
        WITHDRAWAL_AFTER_DEPOSIT = "withdrawal_after_deposit", "Withdrawal soon after a large deposit"

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=30, choices=Kind.choices)
    currency = models.ForeignKey(
        "ledger.Currency", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        help_text="Limit the rule to one currency (empty: every currency).",
    )
    threshold_usd = models.BigIntegerField(
        null=True, blank=True, help_text="Threshold value in settlement-currency minor units (cents)."
    )
    threshold_minor = models.BigIntegerField(
        null=True, blank=True, help_text="Threshold in the rule currency's minor units, used when no rate is known."
    )
    max_movements = models.PositiveIntegerField(null=True, blank=True, help_text="Velocity: movements allowed.")
    window_minutes = models.PositiveIntegerField(default=60)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "name"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="velocity") | Q(max_movements__isnull=False),
                name="operations_compliancerule_velocity_has_max",
            ),
            models.CheckConstraint(
                condition=Q(kind="velocity") | Q(threshold_usd__isnull=False) | Q(threshold_minor__isnull=False),
                name="operations_compliancerule_has_threshold",
            ),
            models.CheckConstraint(
                condition=Q(threshold_minor__isnull=True) | Q(currency__isnull=False),
                name="operations_compliancerule_minor_threshold_has_currency",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class PendingWithdrawal(models.Model):
    """A withdrawal above settings.WITHDRAWAL_REVIEW_THRESHOLD_USD, waiting for Compliance.

    Its amount is held on the account from the request on (available drops, balance does not).
    It is decided exactly once: approved (the withdrawal entry is posted and captures the hold) or
    rejected (the hold is released). `operations.services` owns every status change.
    """

    class Status(models.TextChoices):
        PENDING_REVIEW = "pending_review", "Pending review"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    client = models.ForeignKey("accounts.Client", on_delete=models.PROTECT, related_name="pending_withdrawals")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="pending_withdrawals")
    account = models.ForeignKey("ledger.Account", on_delete=models.PROTECT, related_name="pending_withdrawals")
    amount = models.BigIntegerField(help_text="Minor units of the account's currency.")
    hold = models.OneToOneField("ledger.Hold", on_delete=models.PROTECT, related_name="pending_withdrawal")
    reference = models.CharField(max_length=200, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING_REVIEW)
    # One-to-one: one request can become at most one withdrawal entry.
    entry = models.OneToOneField(
        "ledger.JournalEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="pending_withdrawal"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True, help_text="Why it was rejected (internal, not shown to the client).")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("decide_pendingwithdrawal", "Can approve and reject pending withdrawals")]
        indexes = [models.Index(fields=["status", "-created_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="operations_pendingwithdrawal_amount_positive"),
            models.CheckConstraint(
                condition=(Q(status="approved") & Q(entry__isnull=False))
                | (~Q(status="approved") & Q(entry__isnull=True)),
                name="operations_pendingwithdrawal_approved_has_entry",
            ),
            models.CheckConstraint(
                condition=(Q(status="pending_review") & Q(decided_at__isnull=True))
                | (~Q(status="pending_review") & Q(decided_at__isnull=False)),
                name="operations_pendingwithdrawal_decided_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"withdrawal request {self.pk}: {self.amount} on account {self.account_id} ({self.status})"


class ReviewItem(models.Model):
    """A rule hit, or a withdrawal held for review, waiting for (or worked by) Compliance.

    A rule hit names its entry and rule; a held withdrawal has neither yet (no money has moved)
    and is closed when the withdrawal is approved or rejected.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLEARED = "cleared", "Cleared"
        ESCALATED = "escalated", "Escalated"

    client = models.ForeignKey("accounts.Client", on_delete=models.PROTECT, related_name="review_items")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="review_items")
    entry = models.ForeignKey(
        "ledger.JournalEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="review_items"
    )
    rule = models.ForeignKey(
        ComplianceRule, on_delete=models.PROTECT, null=True, blank=True, related_name="review_items"
    )
    withdrawal = models.OneToOneField(
        PendingWithdrawal, on_delete=models.PROTECT, null=True, blank=True, related_name="review_item"
    )
    detail = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    note = models.TextField(blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "-created_at"]), models.Index(fields=["user", "rule", "created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=(Q(entry__isnull=False) & Q(rule__isnull=False)) | Q(withdrawal__isnull=False),
                name="operations_reviewitem_rule_hit_or_withdrawal",
            ),
        ]

    def __str__(self) -> str:
        return f"review {self.pk}: {self.rule or 'withdrawal held for review'} ({self.status})"


class MovementCount(models.Model):
    """Movements (journal entries) touching a user's accounts, per minute: what the velocity rule
    sums over its window, so evaluating it reads at most `window_minutes` rows per user however
    long the user's history. Written by `operations.compliance` inside the posting transaction."""

    # Indexed by the unique (user, minute), which leads with the user.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False)
    minute = models.BigIntegerField(help_text="Minutes since the Unix epoch (UTC).")
    movements = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "minute"], name="operations_movementcount_user_minute_unique"),
        ]

    def __str__(self) -> str:
        return f"user {self.user_id} minute {self.minute}: {self.movements}"
