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
- Records are kept `settings.IDEMPOTENCY_TTL_HOURS`; the worker deletes expired ones in the
  background (`WORKER_HOUSEKEEPING`), as does `manage.py purge_idempotency` (an expired record is
  also replaced when its key is used again). Never on the request path.

Why it is crash-safe: the record row is inserted first, inside the same `transaction.atomic()` as
the effect, and updated with the outcome before commit. Either both commit or neither does. A
domain error rolls the whole transaction back (no savepoint on the happy path) and its answer is
then stored in a transaction of its own, claiming the key again: if another request claimed it
meanwhile, that request's outcome is the one that stands and is replayed.

The happy path costs two statements: `INSERT … ON CONFLICT DO NOTHING RETURNING id` (the claim,
and the check for a stored outcome: a committed record is a conflict) and the `UPDATE` with the
answer. How concurrent retries are told apart without a lock wait on that path: on PostgreSQL
the claim also takes a transaction-scoped advisory lock on (scope, key) in the same statement
(`pg_try_advisory_xact_lock`); a second request that cannot take it while no record is committed
knows the first is still running and waits for it, for at most settings.IDEMPOTENCY_WAIT_MS
(`lock_timeout` is set only there): if the first commits within it, its outcome is replayed; if
not → 409 in progress. On SQLite writers are serialised at BEGIN, so the second request waits
for the first and then replays.

A handler whose one write is a single journal entry (`@idempotent(reply_to_entry=…)`: transfers
and deposits) keeps these semantics with fewer statements on PostgreSQL: one statement holds the
key for the whole request (a session-level advisory lock, with the check for a committed record),
the handler runs in autocommit with the claim offered to the ledger (`core.claims`), and the
ledger's one statement claims the key, posts the entry, stores the reply and releases the session
lock (`ledger.services.posting_request`); the reply is then sent as that statement stored it. A
refusal writes nothing there and is stored as above; the session lock is released however the
handler ends.
"""

import contextlib
import functools
import hashlib
import json
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone
from rest_framework.response import Response

from core.api.caller import CallerLike
from core.api.exceptions import domain_error_response
from core.api.renderers import FastJSONRenderer, rendered_json
from core.claims import ClaimBusy, ClaimTaken, OfferedClaim, claim_offered
from core.errors import ConflictError, DomainError, InvalidInputError, RuleViolationError
from core.models import IdempotencyRecord
from core.prepared import prepared_cursor
from core.transactions import atomic_whole

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
# One write in this many also deletes a batch of expired records.
_LOCK_NOT_AVAILABLE = "55P03"
_CLAIM_POSTGRESQL = (
    "INSERT INTO core_idempotencyrecord (scope, key, request_hash, content_type, created_at, expires_at) "
    "SELECT %s, %s, %s, %s, %s, %s WHERE pg_try_advisory_xact_lock(%s) "
    "ON CONFLICT (scope, key) DO NOTHING RETURNING id"
)
_CLAIM_SQLITE = (
    "INSERT INTO core_idempotencyrecord (scope, key, request_hash, content_type, created_at, expires_at) "
    "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (scope, key) DO NOTHING RETURNING id"
)
# A request whose effect is one statement holds its key by a session-level lock until then; the
# record, if one is committed, is replayed without running the request.
_KEY_LOCK = (
    "SELECT pg_try_advisory_lock(%s), EXISTS (SELECT 1 FROM core_idempotencyrecord "
    "WHERE scope = %s AND key = %s AND expires_at > %s)"
)
# The outcome, on the record the claim inserted (fixed SQL: this runs on every idempotent request).
_STORE = "UPDATE core_idempotencyrecord SET status_code = %s, response_body = %s, content_type = %s WHERE id = %s"


class InvalidIdempotencyKeyError(InvalidInputError):
    code = "invalid_idempotency_key"
    title = "Invalid Idempotency-Key"


class IdempotencyKeyReusedError(RuleViolationError):
    code = "idempotency_key_reused"
    title = "Idempotency-Key reused with a different request"


class IdempotencyInProgressError(ConflictError):
    code = "idempotency_in_progress"
    title = "A request with this Idempotency-Key is still in progress"


class _Refused(Exception):
    """The handler raised a domain error: its effect is rolled back, its answer is stored."""

    def __init__(self, error: DomainError):
        super().__init__(error)
        self.error = error


def idempotent(handler=None, *, reply_to_entry=None):
    """Store and replay the outcome of `handler` per `Idempotency-Key` (see the module docstring).

    `reply_to_entry(entry, view)`, for a handler whose one write is a single journal entry and
    which returns that entry: the reply to it. On PostgreSQL the handler then runs in autocommit
    with the claim offered to the ledger (`core.claims`), which claims the key, posts the entry and
    stores this reply in one statement, and the reply is sent as stored; the handler must write
    nothing before it."""
    if handler is None:
        return functools.partial(idempotent, reply_to_entry=reply_to_entry)
    respond = handler if reply_to_entry is None else _replying(handler, reply_to_entry)

    @functools.wraps(handler)
    def wrapper(view, request, *args, **kwargs):
        key = request.headers.get(IDEMPOTENCY_HEADER)
        scope = request.auth.idempotency_scope if isinstance(request.auth, CallerLike) else None
        if key is None or scope is None:
            return respond(view, request, *args, **kwargs)
        if not key or len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
            raise InvalidIdempotencyKeyError(
                f"{IDEMPOTENCY_HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters."
            )
        request_hash = _fingerprint(request)
        # A few rounds are enough: a lost race is followed by reading the winner's committed record.
        for _ in range(3):
            try:
                if reply_to_entry is not None and connection.vendor == "postgresql":
                    response = _execute_in_one_statement(
                        handler, view, request, args, kwargs, scope=scope, key=key, request_hash=request_hash,
                        reply_to_entry=reply_to_entry,
                    )
                else:
                    response = _execute(
                        respond, view, request, args, kwargs, scope=scope, key=key, request_hash=request_hash
                    )
            except (ClaimBusy, ClaimTaken) as taken:
                if isinstance(taken, ClaimBusy):  # another request holds the key: wait for it to end
                    with transaction.atomic():
                        _wait_for_holder(scope=scope, key=key)
                record = _stored(scope=scope, key=key)
                if record is not None:
                    return _replay(record, request_hash)
                continue  # it expired (and is gone now) or its first request rolled back: claim again
            return response
        raise IdempotencyInProgressError()

    wrapper.is_idempotent = True
    return wrapper


def _replying(handler, reply_to_entry):
    """`handler`, which returns the entry it posted, answering with `reply_to_entry(entry, view)`."""

    @functools.wraps(handler)
    def respond(view, request, *args, **kwargs):
        return reply_to_entry(handler(view, request, *args, **kwargs), view)

    return respond


def idempotency_purge(*, now=None) -> int:
    """Delete every expired record; returns how many."""
    deleted, _ = IdempotencyRecord.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted


def _execute(handler, view, request, args, kwargs, *, scope: str, key: str, request_hash: str) -> Response:
    """The claim, the effect and the outcome in one transaction; a domain error rolls the effect
    back and stores the error in a transaction of its own."""
    try:
        with atomic_whole():  # a refusal rolls the effect back whole: services need no savepoints
            record_id = _claim(scope=scope, key=key, request_hash=request_hash)
            try:
                response = handler(view, request, *args, **kwargs)
            except DomainError as error:
                raise _Refused(error) from error
            _store(record_id, response)
        return response
    except _Refused as refused:
        response = domain_error_response(refused.error)
    with transaction.atomic():
        # The effect is rolled back, and so was the claim: another request may have claimed the
        # key meanwhile. Then its outcome is the one that stands (replayed by the caller).
        _store(_claim(scope=scope, key=key, request_hash=request_hash), response)
    return response


def _execute_in_one_statement(
    handler, view, request, args, kwargs, *, scope: str, key: str, request_hash: str, reply_to_entry
) -> Response:
    """The handler in autocommit, its claim offered to the statement that posts its entry; a
    refusal (nothing written: the statement is all or nothing) and a handler that posted nothing
    are stored in a transaction of their own, as `_execute` stores a refusal."""
    claim = OfferedClaim(
        scope=scope, key=key, request_hash=request_hash, lock_id=_lock_id(scope, key),
        expires_at=timezone.now() + timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS),
        reply=lambda entry: _recorded(reply_to_entry(entry, view)),
    )
    _key_lock(claim)
    try:
        try:
            with claim_offered(claim):
                entry = handler(view, request, *args, **kwargs)
        except DomainError as error:
            if claim.stored:
                raise
            response = domain_error_response(error)
        else:
            if claim.stored_reply is not None:
                return _response(*claim.stored_reply)
            response = reply_to_entry(entry, view)
        if not claim.stored:
            with transaction.atomic():
                _store(_claim(scope=scope, key=key, request_hash=request_hash), response)
        return response
    finally:
        if not claim.stored:  # the statement that stored the outcome released it
            _key_unlock(claim)


def _key_lock(claim: OfferedClaim) -> None:
    """Take the key's session-level advisory lock for the whole request, as the claim's record
    holds the key in `_execute` (a retry meanwhile waits, then replays or is told it is in
    progress). Raise ClaimTaken when a committed record exists, ClaimBusy when another request
    holds the key."""
    with prepared_cursor() as cursor:
        cursor.execute(_KEY_LOCK, [claim.lock_id, claim.scope, claim.key, timezone.now()])
        locked, stored = cursor.fetchone()
    if stored:
        if locked:
            _key_unlock(claim)
        raise ClaimTaken()
    if not locked:
        raise ClaimBusy()


def _key_unlock(claim: OfferedClaim) -> None:
    # A connection that failed took the session and its lock with it: the error that ended the
    # request is the one to report.
    with contextlib.suppress(InterfaceError, OperationalError), prepared_cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s)", [claim.lock_id])


def _claim(*, scope: str, key: str, request_hash: str) -> int:
    """Insert the record for (scope, key) in the current transaction and return its id; raise
    ClaimTaken when a committed record exists, IdempotencyInProgressError when a request
    still running holds the key longer than settings.IDEMPOTENCY_WAIT_MS."""
    now = timezone.now()
    values: list[Any] = [scope, key, request_hash, "", now, now + timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS)]
    with prepared_cursor() as cursor:
        if connection.vendor == "postgresql":
            # The transaction-scoped advisory lock is what a concurrent request with the same key
            # finds taken: it never waits on the unique index, so no lock_timeout is set on the
            # happy path (and the service's own row locks wait as they always did).
            cursor.execute(_CLAIM_POSTGRESQL, [*values, _lock_id(scope, key)])
        else:
            # SQLite serialises writers at BEGIN: a committed record is all there can be.
            cursor.execute(_CLAIM_SQLITE, values)
        row = cursor.fetchone()
    if row is not None:
        return row[0]
    if connection.vendor == "postgresql" and not _stored_exists(scope=scope, key=key):
        # No committed record, yet the insert did nothing: a request with this key is running.
        _wait_for_holder(scope=scope, key=key)
    raise ClaimTaken()


def _wait_for_holder(*, scope: str, key: str) -> None:
    """Wait up to settings.IDEMPOTENCY_WAIT_MS for the request holding the key to end (off the
    happy path). The caller's transaction rolls back right after, taking this lock_timeout and
    the lock with it."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{settings.IDEMPOTENCY_WAIT_MS}ms"])
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_lock_id(scope, key)])
    except OperationalError as error:
        if getattr(error.__cause__, "sqlstate", None) == _LOCK_NOT_AVAILABLE:
            raise IdempotencyInProgressError() from None
        raise


def _lock_id(scope: str, key: str) -> int:
    digest = hashlib.blake2b(f"{scope}\n{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _store(record_id: int, response: Response) -> None:
    with prepared_cursor() as cursor:
        cursor.execute(_STORE, [*_recorded(response), record_id])


def _recorded(response: Response) -> tuple[int, str | None, str]:
    """What the record keeps of `response`: its status code, its body's JSON text, its content type."""
    return response.status_code, _normalised(response.data), response.content_type or ""


def _stored_exists(*, scope: str, key: str) -> bool:
    return IdempotencyRecord.objects.filter(scope=scope, key=key).exists()


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
    return _response(record.status_code, record.response_body, record.content_type, headers={REPLAYED_HEADER: "true"})


def _response(status_code: int | None, body: str | None, content_type: str, headers: dict | None = None) -> Response:
    """A stored outcome as a response: its body written as stored (`RenderedJSON`)."""
    response = Response(None if body is None else rendered_json(body), status=status_code, headers=headers)
    if content_type:
        response.content_type = content_type
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
    return FastJSONRenderer().render(data).decode()
