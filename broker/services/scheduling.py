"""Side effects scheduled after commit: the worker only ever sees committed orders and rates.

`broker.tasks` imports the services it runs, so it is imported here lazily.
"""

from django.db import transaction


def order_execution_schedule(*, order_id: int) -> None:
    """Enqueue the order's execution once the current transaction commits."""

    def enqueue() -> None:
        from broker.tasks import order_execute_task

        order_execute_task.enqueue(order_id=order_id)

    transaction.on_commit(enqueue)


def orders_evaluation_schedule(*, currency_code: str) -> None:
    """Enqueue the evaluation of resting orders in `currency_code` once the rate change commits."""

    def enqueue() -> None:
        from broker.tasks import orders_evaluate_task

        orders_evaluate_task.enqueue(currency_code=currency_code)

    transaction.on_commit(enqueue)
