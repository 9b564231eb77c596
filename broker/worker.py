"""What keeps the order worker going on its own: recovery of orphaned tasks.

A task a worker claimed stays RUNNING if that worker dies (kill -9, OOM, host loss) or loses the
database mid-task. `worker_recover` finds tasks RUNNING for longer than `orphan_after` and puts
them back in the queue (READY), or marks them FAILED after MAX_ATTEMPTS claims, then runs the
order sweep (`orders_sweep`) for any order its task did not finish, and queues the webhook sweep
when a delivery is overdue by more than its lease (its task was lost, or its worker died). The
`db_worker` command runs it every WORKER_RECOVERY_SECONDS, so the worker alone recovers a dead
worker's work.

Re-running is safe because every task here is idempotent: `order_execute` locks the order row and
checks its status in the fill's transaction, so an order is filled at most once even when the
"orphan" was in fact only slow and finishes too.
"""

import logging
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks_db.models import DBTaskResult

from broker.services import orders_sweep
from events.models import WebhookDelivery
from events.tasks import webhook_deliveries_sweep_task

logger = logging.getLogger("broker.worker")

# A task claimed this many times without finishing is failed instead of re-queued: it may be what
# kills its workers.
MAX_ATTEMPTS = 5


class OrphanedTaskError(Exception):
    """Recorded on a task whose workers kept disappearing while running it."""


def worker_recover(*, orphan_after: timedelta) -> dict[str, int]:
    """Re-queue (or fail) tasks RUNNING longer than `orphan_after`, then sweep orders left
    `submitted` for that long. Safe to run from several workers at once."""
    cutoff = timezone.now() - orphan_after
    requeued = failed = 0
    with transaction.atomic():
        orphans = list(
            DBTaskResult.objects.running().filter(started_at__lt=cutoff).select_for_update(skip_locked=True)
        )
        for task_result in orphans:
            if len(task_result.worker_ids) >= MAX_ATTEMPTS:
                task_result.status = "FAILED"
                task_result.finished_at = timezone.now()
                task_result.exception_class_path = f"{OrphanedTaskError.__module__}.{OrphanedTaskError.__qualname__}"
                task_result.traceback = f"Abandoned by {len(task_result.worker_ids)} workers; not retried again."
                task_result.save(update_fields=["status", "finished_at", "exception_class_path", "traceback"])
                failed += 1
            else:
                task_result.status = "READY"
                task_result.save(update_fields=["status"])
                requeued += 1
    counts = {"requeued": requeued, "failed": failed, **orders_sweep(stale_after=orphan_after)}
    counts["webhook_sweep"] = _webhook_sweep_if_overdue()
    counts["purged"] = _housekeeping()
    if requeued or failed or counts["stale"]:
        logger.warning("worker recovered orphaned work: %s", counts)
    return counts


def _webhook_sweep_if_overdue() -> int:
    """Queue the webhook sweep when a pending delivery is overdue by more than a lease: 1 if queued."""
    overdue = timezone.now() - timedelta(seconds=settings.WEBHOOK_DELIVERY_LEASE_SECONDS)
    pending = WebhookDelivery.objects.filter(
        status=WebhookDelivery.Status.PENDING, next_attempt_at__lt=overdue, endpoint__is_enabled=True
    )
    if not pending.exists():
        return 0
    transaction.on_commit(webhook_deliveries_sweep_task.enqueue)
    return 1
def _housekeeping() -> int:
    """Run each WORKER_HOUSEKEEPING function; returns the rows they removed. One failing is logged
    and does not stop the others or the recovery."""
    removed = 0
    for path in settings.WORKER_HOUSEKEEPING:
        clean_up: Callable[[], int] = import_string(path)
        try:
            removed += clean_up() or 0
        except Exception:
            logger.exception("worker housekeeping failed: %s", path)
    return removed
