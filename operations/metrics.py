"""Prometheus collectors for the platform's own figures, read from the database at scrape time.

Request counts and latency come from django-prometheus' middleware; these add what only the
database knows. Each scrape runs a handful of aggregate queries (indexed columns only).
"""

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

_registered = False


class PlatformCollector(Collector):
    def describe(self):
        # Names only: without describe() the registry would call collect(), and so query the
        # database, at registration time (app loading, before any migration has run).
        yield GaugeMetricFamily("ledger_journal_entries", "", labels=["kind"])
        yield GaugeMetricFamily("broker_orders", "", labels=["status"])
        for name in ("compliance_review_items_open", "worker_queue_depth", "ledger_verification_ok",
                     "ledger_verification_last_run_timestamp_seconds", "ledger_verification_violations"):
            yield GaugeMetricFamily(name, "")

    def collect(self):
        from django_tasks.base import TaskResultStatus
        from django_tasks_db.models import DBTaskResult

        from broker.models import Order
        from ledger.models import JournalEntry, LedgerVerification
        from operations.models import ReviewItem

        entries = GaugeMetricFamily(
            "ledger_journal_entries", "Journal entries written, by kind.", labels=["kind"]
        )
        counts = dict(JournalEntry.objects.values_list("kind").annotate(n=Count("id")).order_by())
        for kind in JournalEntry.Kind.values:
            entries.add_metric([kind], counts.get(kind, 0))
        yield entries

        orders = GaugeMetricFamily("broker_orders", "Orders, by status.", labels=["status"])
        counts = dict(Order.objects.values_list("status").annotate(n=Count("id")).order_by())
        for status in Order.Status.values:
            orders.add_metric([status], counts.get(status, 0))
        yield orders

        yield GaugeMetricFamily(
            "compliance_review_items_open",
            "Compliance review items waiting for a decision.",
            value=ReviewItem.objects.filter(status=ReviewItem.Status.OPEN).count(),
        )
        yield GaugeMetricFamily(
            "worker_queue_depth",
            "Background tasks ready to run and not yet picked up.",
            value=DBTaskResult.objects.filter(status=TaskResultStatus.READY).count(),
        )

        last = LedgerVerification.objects.order_by("-ran_at").first()
        ok = GaugeMetricFamily("ledger_verification_ok", "1 if the last verify_ledger run found no violation.")
        ran = GaugeMetricFamily(
            "ledger_verification_last_run_timestamp_seconds", "When verify_ledger last ran (Unix time)."
        )
        violations = GaugeMetricFamily("ledger_verification_violations", "Violations found by the last run.")
        if last is not None:
            ok.add_metric([], 1 if last.is_ok else 0)
            ran.add_metric([], int(last.ran_at.timestamp()))
            violations.add_metric([], len(last.violations))
        yield ok
        yield ran
        yield violations


def metrics_register() -> None:
    """Register the collector once per process (called from the app's ready())."""
    global _registered
    if not _registered:
        REGISTRY.register(PlatformCollector())
        _registered = True
