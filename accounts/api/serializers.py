from django.conf import settings
from rest_framework import serializers

from accounts.models import Client, User


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "external_id", "email", "name", "is_active", "created_at"]
        read_only_fields = ["id", "is_active", "created_at"]
        extra_kwargs = {
            "external_id": {"required": True, "allow_null": False, "allow_blank": False, "max_length": 200},
            "email": {"required": False},
            "name": {"required": False},
        }
        # The unique-per-client rule is the database's (→ 409 already_exists), not a 400 here.
        validators: list = []


class UserCreateSerializer(UserSerializer):
    client = serializers.PrimaryKeyRelatedField(
        queryset=Client.objects.filter(is_active=True),
        required=False,
        help_text="Platform staff only (required for them): the client the user belongs to.",
    )

    class Meta(UserSerializer.Meta):
        fields = [*UserSerializer.Meta.fields, "client"]


class UserUpdateSerializer(UserSerializer):
    class Meta(UserSerializer.Meta):
        extra_kwargs = {**UserSerializer.Meta.extra_kwargs, "external_id": {"required": False, "allow_null": False}}


class EndUserTokenRequestSerializer(serializers.Serializer):
    minutes = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=24 * 60,
        help_text=f"Lifetime; default {settings.END_USER_TOKEN_MINUTES} (END_USER_TOKEN_MINUTES).",
    )


class EndUserTokenSerializer(serializers.Serializer):
    access = serializers.CharField(help_text="Send as `Authorization: Bearer <access>`.")
    expires_at = serializers.DateTimeField()


class ClientSerializer(serializers.ModelSerializer):
    class Meta:
        model = Client
        fields = ["id", "name", "slug", "is_active", "created_at"]
        read_only_fields = fields


class ClientStatusChangeSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, help_text="Why; recorded in the audit log.")
