"""The webhook worker's tasks (django-tasks; `python manage.py db_worker` runs them).

Tasks take ids and re-read everything: a task may run late, twice, or after the delivery was
made by the sweep; `delivery_attempt` does nothing for a delivery that is not due.
"""

from django_tasks import task

from events.delivery import deliveries_due_run, delivery_attempt


@task()
def webhook_deliver_task(delivery_id: int) -> str | None:
    """Attempt one delivery (enqueued on commit of its event, and for each retry)."""
    delivery = delivery_attempt(delivery_id=delivery_id)
    return None if delivery is None else delivery.status


@task()
def webhook_deliveries_sweep_task() -> int:
    """The sweep as a task, for deployments that schedule it instead of running `deliver_webhooks`."""
    return deliveries_due_run()
