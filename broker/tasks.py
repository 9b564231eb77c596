"""The order worker's tasks (django-tasks; `python manage.py db_worker` runs them).

Tasks take ids, not objects, and re-read everything under locks: a task may run late, twice, or
after the order was cancelled, and each service it calls is idempotent for those cases.
"""

from django_tasks import task

from broker.services import order_execute, orders_evaluate


@task()
def order_execute_task(order_id: int) -> str:
    """Execute one submitted order (enqueued on commit by order_submit)."""
    return order_execute(order_id=order_id).status


@task()
def orders_evaluate_task(currency_code: str) -> int:
    """Fill the resting orders a rate change crossed (enqueued on commit by rate_update)."""
    return orders_evaluate(currency_code=currency_code)
