"""Transactions that any refusal rolls back whole, and how code inside one knows it is in one.

A service that writes in several statements opens `transaction.atomic()`; nested in a caller's
transaction that costs a savepoint (two round trips), which is what lets a caller catch the
service's refusal and carry on. A caller that never carries on after a refusal — the API's
idempotent request, whose effect and claim roll back together — says so with `atomic_whole()`,
and services, opening theirs with `atomic_service()`, skip the savepoint inside it. A savepoint opened
explicitly inside (`transaction.atomic()` around one item of a batch) still works as before:
only the services' own, implicit savepoints are skipped.

Safe by construction: if code inside did catch a refusal and carry on, Django has marked the
transaction for rollback, and its next statement fails instead of running on a half-applied
change.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import connection, transaction

_whole_at_depth: ContextVar[int | None] = ContextVar("whole_transaction_depth", default=None)


@contextmanager
def atomic_whole() -> Iterator[None]:
    """`transaction.atomic()` whose every refusal ends it (rolled back whole, or to the savepoint
    it opened when nested, as in a test's transaction)."""
    with transaction.atomic():
        token = _whole_at_depth.set(len(connection.savepoint_ids))
        try:
            yield
        finally:
            _whole_at_depth.reset(token)


def atomic_service(*, savepoint: bool = True) -> transaction.Atomic:
    """`transaction.atomic()` as a service opens it: a transaction of its own, or nested in the
    caller's, a savepoint unless `savepoint=False` or within `atomic_whole()`."""
    return transaction.atomic(savepoint=savepoint and not in_whole_transaction())


def in_whole_transaction() -> bool:
    """True inside `atomic_whole()` when no savepoint has been opened within it since (code that
    opens one means to recover from what happens inside it, and keeps its usual behaviour)."""
    depth = _whole_at_depth.get()
    if depth is None or not connection.in_atomic_block or len(connection.savepoint_ids) < depth:
        return False
    return all(savepoint_id is None for savepoint_id in connection.savepoint_ids[depth:])
