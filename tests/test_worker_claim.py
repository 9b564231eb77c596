"""How `db_worker` claims a task: the next ready one by priority, then age, marked RUNNING with the
claiming worker's id appended, once (one statement on PostgreSQL, the library's transaction on
SQLite)."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django_tasks_db.models import DBTaskResult

from broker.management.commands.db_worker import SelfHealingWorker
from broker.tasks import order_execute_task

pytestmark = pytest.mark.django_db


def _worker(worker_id: str) -> SelfHealingWorker:
    return SelfHealingWorker(
        queue_names=["default"], interval=0, batch=True, backend_name="default", startup_delay=False,
        max_tasks=None, worker_id=worker_id, excluded_queue_names=[],
    )


def _ready():
    return DBTaskResult.objects.ready().filter(backend_name="default", queue_name__in=["default"])


def test_the_oldest_ready_task_is_claimed_once_with_the_worker_recorded():
    # given: two tasks, the first already tried by a worker that died
    with transaction.atomic():
        first = order_execute_task.enqueue(order_id=1)
        second = order_execute_task.enqueue(order_id=2)
    DBTaskResult.objects.filter(pk=first.id).update(worker_ids=["gone"])
    worker = _worker("w1")

    # when
    with CaptureQueriesContext(connection) as captured:
        claimed = worker._claim_next(_ready())

    # then: the first, RUNNING, both workers recorded, in one statement on PostgreSQL
    stored = DBTaskResult.objects.get(pk=first.id)
    assert str(claimed.pk) == str(first.id)
    assert (stored.status, stored.worker_ids, stored.started_at is not None) == ("RUNNING", ["gone", "w1"], True)
    assert claimed.task_result.args == [] and claimed.task_result.kwargs == {"order_id": 1}
    if connection.vendor == "postgresql":
        assert len(captured) == 1, captured.captured_queries
    # and the next claim takes the second, then there is nothing left
    assert str(_worker("w2")._claim_next(_ready()).pk) == str(second.id)
    assert _worker("w3")._claim_next(_ready()) is None
