"""The order worker's tasks (django-tasks; `python manage.py db_worker` runs them).

Tasks take ids, not objects, and re-read everything under locks: a task may run late, twice, or
after the order was cancelled, and each service it calls is idempotent for those cases.
"""

from datetime import timedelta

from django_tasks import task

from broker.services.orders import order_execute, orders_evaluate, orders_sweep


@task()
def order_execute_task(order_id: int) -> str:
    """Execute one submitted order (enqueued on commit by order_submit)."""
    return order_execute(order_id=order_id).status


@task()
def orders_evaluate_task(currency_code: str) -> int:
    """Fill the resting orders a rate change crossed (enqueued on commit by rate_update)."""
    return orders_evaluate(currency_code=currency_code)


@task()
def orders_sweep_task(stale_after_seconds: int = 60) -> dict[str, int]:
    """The sweeper as a task, for deployments that schedule it instead of running `sweep_orders`."""
    return orders_sweep(stale_after=timedelta(seconds=stale_after_seconds))
