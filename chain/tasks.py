"""The crypto rails' tasks (django-tasks; `manage.py db_worker` runs them). Tasks take ids and
re-read everything under locks: a task may run late, twice, or after a crash."""

from django_tasks import task

from chain.services.process import chain_process
from chain.services.withdrawals import crypto_withdrawal_send


@task()
def crypto_withdrawal_send_task(withdrawal_id: int) -> str:
    """Sign, record and broadcast one withdrawal (enqueued on commit by submission/approval)."""
    return crypto_withdrawal_send(withdrawal_id=withdrawal_id).status


@task()
def chain_process_task() -> dict[str, int]:
    """One pass over every network, for deployments that schedule it instead of `chain_process --every`."""
    return chain_process()
