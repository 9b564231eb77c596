"""`Idempotency-Key` for POST endpoints: one decorator, `@idempotent`, on the view method.

Usage (any DRF view or viewset method that creates something or moves money)::

    from core.api.idempotency import idempotent

    class OrderViewSet(CallerViewMixin, viewsets.GenericViewSet):
        @idempotent
        def create(self, request):
            ...  # validate, call one service, return Response(..., status=201)

        @action(detail=True, methods=["post"])
        @idempotent  # below @action
        def cancel(self, request, pk=None): ...

The decorator also marks the method so the OpenAPI schema (core.api.schema.AutoSchema) documents
the header. Without the header the method runs as if undecorated.

Semantics, per (caller scope, key) — `request.auth.idempotency_scope`, i.e. per client for API
keys and client staff, per end user, per staff member:

- The first outcome is stored: a 2xx response, or a domain error (409/422/403 … from a service)
  rendered as problem+json. A retry with the same method, path and body gets the same status and
  body back with `Idempotent-Replayed: true`. Input the serializer rejects (400), and
  authentication, permission and lookup failures, are not stored: nothing started.
- The same key with a different request → 422 `idempotency_key_reused`.
- A retry while the first request is still running → 409 `idempotency_in_progress`.
- Records are kept `settings.IDEMPOTENCY_TTL_HOURS`; `manage.py purge_idempotency` deletes
  expired ones (an expired record is also replaced when its key is used again).

Why it is crash-safe: the record row is inserted first, inside the same `transaction.atomic()` as
the effect, and updated with the outcome before commit. Either both commit or neither does.
The service runs in a savepoint, so a domain error rolls the effect back but keeps the record.

How concurrent retries are told apart: the record row is invisible to others until commit, but
its unique index is not. A second request inserting the same (scope, key) blocks on that index
until the first commits or rolls back. On PostgreSQL the insert runs with a short `lock_timeout`
(settings.IDEMPOTENCY_WAIT_MS): if the first commits within it, the insert fails as a duplicate
and the stored outcome is replayed; if not, the lock wait times out → 409 in progress. On SQLite
writers are serialised at BEGIN, so the second request waits for the first and then replays.
"""

import functools
import hashlib
import json
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from core.api.caller import CallerLike
from core.api.exceptions import domain_error_response
from core.errors import ConflictError, DomainError, InvalidInputError, RuleViolationError
from core.models import IdempotencyRecord

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
# One write in this many also deletes a batch of expired records.
_PURGE_ONE_IN = 100
_PURGE_BATCH = 500
_LOCK_NOT_AVAILABLE = "55P03"


class InvalidIdempotencyKeyError(InvalidInputError):
    code = "invalid_idempotency_key"
    title = "Invalid Idempotency-Key"


class IdempotencyKeyReusedError(RuleViolationError):
    code = "idempotency_key_reused"
    title = "Idempotency-Key reused with a different request"


class IdempotencyInProgressError(ConflictError):
    code = "idempotency_in_progress"
    title = "A request with this Idempotency-Key is still in progress"


class _AlreadyClaimed(Exception):
    """Another request committed a record for this key between our read and our insert."""


def idempotent(handler):
    """Store and replay the outcome of `handler` per `Idempotency-Key` (see the module docstring)."""

    @functools.wraps(handler)
    def wrapper(view, request, *args, **kwargs):
        key = request.headers.get(IDEMPOTENCY_HEADER)
        scope = request.auth.idempotency_scope if isinstance(request.auth, CallerLike) else None
        if key is None or scope is None:
            return handler(view, request, *args, **kwargs)
        if not key or len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
            raise InvalidIdempotencyKeyError(
                f"{IDEMPOTENCY_HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters."
            )
        request_hash = _fingerprint(request)
        # Two rounds are enough: a lost race is followed by reading the winner's committed record.
        for _ in range(2):
            record = _stored(scope=scope, key=key)
            if record is not None:
                return _replay(record, request_hash)
            try:
                response = _execute(
                    handler, view, request, args, kwargs, scope=scope, key=key, request_hash=request_hash
                )
            except _AlreadyClaimed:
                continue
            _maybe_purge()
            return response
        raise IdempotencyInProgressError()

    wrapper.is_idempotent = True
    return wrapper


def idempotency_purge(*, now=None) -> int:
    """Delete every expired record; returns how many."""
    deleted, _ = IdempotencyRecord.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted


def _execute(handler, view, request, args, kwargs, *, scope: str, key: str, request_hash: str) -> Response:
    with transaction.atomic():
        record = _claim(scope=scope, key=key, request_hash=request_hash)
        try:
            with transaction.atomic():
                response = handler(view, request, *args, **kwargs)
        except DomainError as error:
            response = domain_error_response(error)
        record.status_code = response.status_code
        record.response_body = _normalised(response.data)
        record.content_type = response.content_type or ""
        record.save(update_fields=["status_code", "response_body", "content_type"])
    return response


def _claim(*, scope: str, key: str, request_hash: str) -> IdempotencyRecord:
    is_postgresql = connection.vendor == "postgresql"
    if is_postgresql:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT current_setting('lock_timeout'), set_config('lock_timeout', %s, true)",
                [f"{settings.IDEMPOTENCY_WAIT_MS}ms"],
            )
            previous_timeout = cursor.fetchone()[0]
    try:
        record = IdempotencyRecord.objects.create(
            scope=scope,
            key=key,
            request_hash=request_hash,
            expires_at=timezone.now() + timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS),
        )
    except IntegrityError:
        raise _AlreadyClaimed() from None
    except OperationalError as error:
        if getattr(error.__cause__, "sqlstate", None) == _LOCK_NOT_AVAILABLE:
            raise IdempotencyInProgressError() from None
        raise
    if is_postgresql:
        # The service's own row locks must wait as long as they always did.
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [previous_timeout])
    return record


def _stored(*, scope: str, key: str) -> IdempotencyRecord | None:
    record = IdempotencyRecord.objects.filter(scope=scope, key=key).first()
    if record is not None and record.expires_at <= timezone.now():
        IdempotencyRecord.objects.filter(pk=record.pk, expires_at__lte=timezone.now()).delete()
        return None
    return record


def _replay(record: IdempotencyRecord, request_hash: str) -> Response:
    if record.request_hash != request_hash:
        raise IdempotencyKeyReusedError(
            f"This {IDEMPOTENCY_HEADER} was used for a different request; use a new key for a new request."
        )
    body = None if record.response_body is None else json.loads(record.response_body)
    response = Response(body, status=record.status_code, headers={REPLAYED_HEADER: "true"})
    if record.content_type:
        response.content_type = record.content_type
    return response


def _fingerprint(request) -> str:
    data = request.data
    if hasattr(data, "lists"):  # a QueryDict from a form post
        data = dict(data.lists())
    # Decimals (exact JSON numbers) hash by their text, so 1.0 and 1.00 are different requests.
    body = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def _normalised(data) -> str | None:
    if data is None:
        return None
    return JSONRenderer().render(data).decode()


def _maybe_purge() -> None:
    if secrets.randbelow(_PURGE_ONE_IN) == 0:
        expired = IdempotencyRecord.objects.filter(expires_at__lte=timezone.now()).values("pk")[:_PURGE_BATCH]
        IdempotencyRecord.objects.filter(pk__in=list(expired.values_list("pk", flat=True))).delete()
