"""Tenants (clients), the people and end users that belong to them, and client API keys."""

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import Q


class Client(models.Model):
    """A tenant: a fintech company calling the API on behalf of its end users."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    is_active = models.BooleanField(default=True)
    fee_bps = models.PositiveIntegerField(
        default=settings.DEFAULT_FEE_BPS,
        help_text="Trading fee in basis points of notional (50 = 0.50%).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(fee_bps__lte=10_000), name="accounts_client_fee_bps_range"),
        ]

    def __str__(self) -> str:
        return self.name


class PlatformUserManager(UserManager):
    def create_superuser(self, username, email=None, password=None, **extra_fields):
        extra_fields.setdefault("kind", User.Kind.PLATFORM_STAFF)
        return super().create_superuser(username, email, password, **extra_fields)


class User(AbstractUser):
    """Everyone the platform knows: platform staff, a client's people, and a client's end users.

    Platform staff have no client. A client's people (engineers, operators) and end users belong to
    exactly one client; end users carry the client's own reference (`external_id`). Users are never
    deleted: deactivation (`is_active=False`) keeps history for audit.
    """

    class Kind(models.TextChoices):
        PLATFORM_STAFF = "platform_staff", "Platform staff"
        CLIENT_STAFF = "client_staff", "Client staff"
        END_USER = "end_user", "End user"

    objects = PlatformUserManager()  # type: ignore[misc]  # django-stubs types the base manager as a ClassVar

    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.END_USER)
    client = models.ForeignKey(
        Client, on_delete=models.PROTECT, null=True, blank=True, related_name="users"
    )
    external_id = models.CharField(max_length=200, null=True, blank=True)
    name = models.CharField(max_length=200, blank=True)
    is_frozen = models.BooleanField(
        default=False, help_text="A frozen user cannot move money (set by compliance)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "external_id"],
                condition=Q(external_id__isnull=False),
                name="accounts_user_external_id_unique_per_client",
            ),
            models.CheckConstraint(
                condition=(Q(kind="platform_staff") & Q(client__isnull=True))
                | (~Q(kind="platform_staff") & Q(client__isnull=False)),
                name="accounts_user_client_matches_kind",
            ),
            models.CheckConstraint(
                condition=Q(kind="end_user") | Q(external_id__isnull=True),
                name="accounts_user_external_id_only_for_end_users",
            ),
        ]
        indexes = [models.Index(fields=["client", "email"])]

    def __str__(self) -> str:
        if self.kind == self.Kind.END_USER:
            return f"{self.external_id} ({self.client_id})"
        return self.username

    @property
    def is_end_user(self) -> bool:
        return self.kind == self.Kind.END_USER


class ApiKey(models.Model):
    """A client's API key. Only an HMAC of the secret is stored; the plaintext is shown once."""

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="api_keys")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    hashed_secret = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.client})"
