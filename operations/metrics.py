"""Prometheus collectors for the platform's own figures, read from the database at scrape time.

Request counts and latency come from django-prometheus' middleware; these add what only the
database knows. Each scrape runs a handful of aggregate queries (indexed columns only).
"""

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
        from broker.models import Order
        from ledger.models import JournalEntry
        from operations.selectors import platform_figures

        figures = platform_figures()
        entries = GaugeMetricFamily(
            "ledger_journal_entries", "Journal entries written, by kind.", labels=["kind"]
        )
        for kind in JournalEntry.Kind.values:
            entries.add_metric([kind], figures.entries_by_kind.get(kind, 0))
        yield entries

        orders = GaugeMetricFamily("broker_orders", "Orders, by status.", labels=["status"])
        for status in Order.Status.values:
            orders.add_metric([status], figures.orders_by_status.get(status, 0))
        yield orders

        yield GaugeMetricFamily(
            "compliance_review_items_open",
            "Compliance review items waiting for a decision.",
            value=figures.open_review_count,
        )
        yield GaugeMetricFamily(
            "worker_queue_depth",
            "Background tasks ready to run and not yet picked up.",
            value=figures.worker_backlog,
        )

        last = figures.last_verification
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
