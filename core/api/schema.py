"""OpenAPI helpers shared by every app (settings: DEFAULT_SCHEMA_CLASS = core.api.schema.AutoSchema).

- Every operation documents the problem+json error answers it can give (the `Problem` component),
  so clients and schemathesis know the error shape without per-view annotations.
- A view method decorated with `core.api.idempotency.idempotent` documents `Idempotency-Key`.
"""

from drf_spectacular import openapi
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from core.api.exceptions import PROBLEM_CONTENT_TYPE
from core.api.idempotency import IDEMPOTENCY_HEADER, MAX_KEY_LENGTH


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details, as every error is answered."""

    type = serializers.CharField(help_text="A page on this host describing the code: /api/v1/problems/<code>.")
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField(help_text="A stable slug to switch on, e.g. insufficient_funds.")
    errors = serializers.DictField(  # type: ignore[assignment]  # the field, not Serializer.errors
        required=False, child=serializers.JSONField(), help_text="Field name → messages (validation errors)."
    )

    class Meta:
        ref_name = "Problem"


IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        f"Up to {MAX_KEY_LENGTH} printable ASCII characters. A retry with the same key and body "
        "replays the first answer (header Idempotent-Replayed: true); another body → 422 "
        "idempotency_key_reused; while the first is running → 409 idempotency_in_progress."
    ),
)

_ERROR_DESCRIPTIONS = {
    "400": "Malformed input (validation_error, invalid_amount, unknown_currency …).",
    "401": "No or invalid credentials (token_expired: refresh it; token_invalid; client_inactive).",
    "403": "Authenticated, but not allowed to do this.",
    "404": "Not found, or not visible to this caller.",
    "409": "Conflict (already_exists, already_reversed, idempotency_in_progress).",
    "422": "Rejected by a rule (insufficient_funds, currency_mismatch, idempotency_key_reused …).",
    "429": "Too many requests, or too many failed authentications from this address; see Retry-After.",
}


class AutoSchema(openapi.AutoSchema):
    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if getattr(self._handler(), "is_idempotent", False):
            parameters.append(IDEMPOTENCY_KEY_PARAMETER)
        return parameters

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        problem = self.resolve_serializer(ProblemSerializer, "response").ref
        codes = ["400", "401", "403", "404", "429"]
        if self.method in ("POST", "PUT", "PATCH", "DELETE"):
            codes += ["409", "422"]
        for code in codes:
            responses.setdefault(
                code, {"description": _ERROR_DESCRIPTIONS[code], "content": {PROBLEM_CONTENT_TYPE: {"schema": problem}}}
            )
        return responses

    def _handler(self):
        action = getattr(self.view, "action", None)
        return getattr(self.view, action or self.method.lower(), None)
