"""`python manage.py db_worker`: django-tasks-db's worker, made to heal itself.

This command replaces django_tasks_db's own (INSTALLED_APPS lists `django_tasks_db` after
`broker`, and the first app providing a command wins) and keeps every one of its options. A task
whose database write failed with the outage stays RUNNING and is re-queued by recovery. On top of it:

- A database outage does not stop it: an OperationalError or InterfaceError closes the
  connections, logs a warning with the attempt number, waits (exponential backoff from
  WORKER_RETRY_MIN_MS, capped at WORKER_RETRY_MAX_MS) and carries on.
- An empty queue is polled every WORKER_POLL_INTERVAL_MS (50 ms unless set; `--interval` in
  seconds overrides it): the longest an order waits for an idle worker, for one short query per
  poll and worker.
- Every WORKER_RECOVERY_SECONDS (and at start) it runs `broker.worker.worker_recover`: tasks
  RUNNING longer than WORKER_ORPHAN_SECONDS are re-queued (a killed worker's), and orders left
  `submitted` that long are executed. `make run` and `make worker` need nothing else.
"""

import contextlib
import logging
import os
import time
from datetime import timedelta

from django.conf import settings
from django.core.management.base import CommandError
from django.db import InterfaceError, OperationalError, close_old_connections, connections
from django.utils import timezone
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV, run_with_reloader
from django_tasks.base import TaskResultStatus
from django_tasks_db.management.commands.db_worker import Command as TasksDbWorkerCommand
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction

from broker.worker import worker_recover

logger = logging.getLogger("broker.worker")


def _close_connections() -> None:
    for connection in connections.all(initialized_only=True):
        # A dead connection may fail to close; it is dropped either way.
        with contextlib.suppress(Exception):
            connection.close()


class SelfHealingWorker(Worker):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.orphan_after = timedelta(seconds=settings.WORKER_ORPHAN_SECONDS)
        self.recover_every = settings.WORKER_RECOVERY_SECONDS
        self.next_recovery = 0.0

    def run(self) -> None:
        logger.info("worker %s starting; queues %s", self.worker_id, ",".join(self.queue_names))
        attempt = 0
        while self.running:
            try:
                finished = self._loop()
            except (OperationalError, InterfaceError) as error:
                attempt += 1
                delay_ms = min(settings.WORKER_RETRY_MAX_MS, settings.WORKER_RETRY_MIN_MS * 2 ** (attempt - 1))
                reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
                logger.warning(
                    "worker %s lost the database (attempt %d): %s; retrying in %d ms",
                    self.worker_id, attempt, reason, delay_ms,
                )
                _close_connections()
                time.sleep(delay_ms / 1000)
                continue
            if finished:
                return
            attempt = 0

    def _recover_if_due(self) -> None:
        if time.monotonic() < self.next_recovery:
            return
        worker_recover(orphan_after=self.orphan_after)
        self.next_recovery = time.monotonic() + self.recover_every

    def _loop(self) -> bool:
        """django_tasks_db's loop with recovery between tasks. True when the worker is done (batch
        drained, max tasks run, or asked to stop); raises on a database error."""
        while self.running:
            close_old_connections()
            self._recover_if_due()
            tasks = DBTaskResult.objects.ready().filter(backend_name=self.backend_name)
            if not self.process_all_queues:
                tasks = tasks.filter(queue_name__in=self.queue_names)
            if self.excluded_queue_names:
                tasks = tasks.exclude(queue_name__in=self.excluded_queue_names)
            task_result = self._claim_next(tasks)
            if task_result is not None:
                self.run_task(task_result)
            elif self.batch:
                logger.info("worker %s: no more tasks, exiting", self.worker_id)
                return True
            if self.max_tasks is not None and self._run_tasks >= self.max_tasks:
                return True
            close_old_connections()
            if self.running and task_result is None:
                time.sleep(self.interval)
        return True


    def _claim_next(self, tasks) -> DBTaskResult | None:
        """The next ready task, marked RUNNING by this worker (as DBTaskResult.claim does), or None.

        On PostgreSQL in one statement, `UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED
        LIMIT 1) RETURNING …`, instead of BEGIN, the locking SELECT, the UPDATE and COMMIT: the
        claim is a quarter of the round trips, and the row lock still keeps two workers from
        claiming one task. Elsewhere django-tasks-db's claim, in its exclusive transaction.
        """
        connection = connections[tasks.db]
        if connection.vendor != "postgresql":
            with exclusive_transaction(tasks.db):
                task_result = tasks.get_locked()
                if task_result is not None:
                    task_result.claim(self.worker_id)
            return task_result
        # The ORM compiles FOR UPDATE only inside a transaction; this statement is its own.
        next_id_sql, next_id_params = tasks.values("pk")[:1].query.sql_with_params()
        table = connection.ops.quote_name(DBTaskResult._meta.db_table)
        fields = DBTaskResult._meta.concrete_fields
        columns = ", ".join(connection.ops.quote_name(str(field.column)) for field in fields)
        claimed = list(
            DBTaskResult.objects.db_manager(tasks.db).raw(
                f"UPDATE {table} SET status = %s, started_at = %s,"  # noqa: S608
                " worker_ids = worker_ids || jsonb_build_array(%s::text)"
                f" WHERE id = ({next_id_sql} FOR UPDATE SKIP LOCKED) RETURNING {columns}",
                [TaskResultStatus.RUNNING, timezone.now(), self.worker_id, *next_id_params],
            )
        )
        return claimed[0] if claimed else None


class Command(TasksDbWorkerCommand):
    help = "Run the order worker: the database task worker, riding out outages and recovering orphaned work."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        # django-tasks-db waits 1 s between polls of an empty queue: up to a second before an order
        # accepted into an idle queue is picked up. The project's default is a setting.
        parser.set_defaults(interval=settings.WORKER_POLL_INTERVAL_MS / 1000)

    def handle(self, *, verbosity, queue_name, interval, batch, backend_name, startup_delay, reload, max_tasks,
               worker_id, exclude_queues, **options):
        self.configure_logging(verbosity)
        queue_names = queue_name.split(",")
        excluded_queue_names = exclude_queues.split(",") if exclude_queues else []
        if excluded_queue_names and "*" not in queue_names:
            raise CommandError("--exclude-queues can only be used with --queue-name=*")
        worker = SelfHealingWorker(
            queue_names=queue_names, interval=interval, batch=batch, backend_name=backend_name,
            startup_delay=startup_delay, max_tasks=max_tasks, worker_id=worker_id,
            excluded_queue_names=excluded_queue_names,
        )
        if reload and not batch:
            if os.environ.get(DJANGO_AUTORELOAD_ENV) == "true":
                worker.configure_signals()  # only the reloaded child handles signals
            run_with_reloader(worker.run)
        else:
            worker.configure_signals()
            worker.run()
