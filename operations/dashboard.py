"""Figures for the staff dashboard, and the SVG bar charts that draw them (no scripts, no internet).

Every figure is an aggregate query; nothing is computed per row in Python. Chart geometry uses
integer arithmetic: bar heights are proportional in whole pixels, amounts are rendered with
ledger.money, never through a float.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from ledger.history import snapshot_totals_latest
from ledger.models import Currency, JournalEntry, Posting
from ledger.money import from_minor_units
from ledger.selectors import settlement_currency
from operations.selectors import platform_figures

DAYS = 14
MOVEMENT_KINDS = (
    JournalEntry.Kind.DEPOSIT,
    JournalEntry.Kind.WITHDRAWAL,
    JournalEntry.Kind.TRANSFER,
    JournalEntry.Kind.REVERSAL,
    JournalEntry.Kind.ADJUSTMENT,
)


@dataclass
class Chart:
    title: str
    svg: SafeString


def dashboard_context() -> dict:
    from broker.models import Order
    from chain.selectors import custody_reconciliation_latest
    from operations.models import ReviewItem

    figures = platform_figures()
    orders_by_status = figures.orders_by_status

    today = timezone.now().date()
    since = today - timedelta(days=DAYS - 1)
    days = [since + timedelta(days=offset) for offset in range(DAYS)]
    scales = dict(Currency.objects.values_list("code", "scale"))

    # Money movements: the credited side of each movement entry touching a user account, so a
    # transfer of 10 counts 10 once (each entry's postings sum to zero).
    movements = (
        Posting.objects.filter(
            entry__created_at__date__gte=since, entry__kind__in=MOVEMENT_KINDS, amount__gt=0
        )
        .annotate(day=TruncDate("entry__created_at"))
        .values_list("account__currency_id", "day")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    trading = (
        Order.objects.filter(status=Order.Status.FILLED, filled_at__date__gte=since)
        .annotate(day=TruncDate("filled_at"))
        .values_list("currency_id", "day")
        .annotate(total=Sum("fill_quantity"))
        .order_by()
    )
    top_clients = (
        Order.objects.filter(status=Order.Status.FILLED, filled_at__date__gte=today - timedelta(days=29))
        .values("client__name")
        .annotate(volume=Sum("fill_usd_amount"), orders=Count("id"))
        .order_by("-volume")[:10]
    )
    open_reviews = ReviewItem.objects.filter(status=ReviewItem.Status.OPEN)
    snapshot_date, snapshot_totals = snapshot_totals_latest()
    return {
        "snapshot_date": snapshot_date,
        "snapshot_totals": snapshot_totals,
        "days": DAYS,
        "movement_charts": _charts_by_currency(movements, days=days, scales=scales, unit="moved"),
        "trading_charts": _charts_by_currency(trading, days=days, scales=scales, unit="traded"),
        "orders_by_status": [(label, orders_by_status.get(value, 0)) for value, label in Order.Status.choices],
        "orders_chart": _bar_chart(
            [(label, orders_by_status.get(value, 0), str(orders_by_status.get(value, 0)))
             for value, label in Order.Status.choices],
            title="Orders by status",
        ),
        "open_review_count": figures.open_review_count,
        "open_reviews": open_reviews.select_related("rule", "user", "client")[:10],
        "review_counts": dict(ReviewItem.objects.values_list("status").annotate(n=Count("id")).order_by()),
        "worker_backlog": figures.worker_backlog,
        "worker_failed": figures.worker_failed,
        "verification": figures.last_verification,
        "custody": custody_reconciliation_latest(),
        "top_clients": [
            {"name": row["client__name"], "orders": row["orders"],
             "volume": from_minor_units(row["volume"] or 0, scale=settlement_currency().scale)}
            for row in top_clients
        ],
        "frozen_user_count": _frozen_users(),
    }


def _frozen_users() -> int:
    from accounts.models import User

    return User.objects.filter(Q(is_frozen=True), is_active=True).count()


def _charts_by_currency(rows, *, days: list[date], scales: dict[str, int], unit: str) -> list[Chart]:
    by_currency: dict[str, dict[date, int]] = {}
    for currency, day, total in rows:
        by_currency.setdefault(currency, {})[day] = total or 0
    charts = []
    for currency in sorted(by_currency):
        scale = scales.get(currency, 0)
        bars = [
            (day.strftime("%m-%d"), by_currency[currency].get(day, 0),
             from_minor_units(by_currency[currency].get(day, 0), scale=scale))
            for day in days
        ]
        charts.append(Chart(title=f"{currency} {unit} per day", svg=_bar_chart(bars, title=f"{currency} {unit}")))
    return charts


def _bar_chart(bars: list[tuple[str, int, str]], *, title: str, width: int = 560, height: int = 180) -> SafeString:
    """A bar chart as inline SVG: (label, value, rendered value) per bar. Values are integers."""
    top, bottom, left = 20, 30, 8
    plot_height = height - top - bottom
    slot = (width - left) // max(len(bars), 1)
    peak = max((value for _, value, _ in bars), default=0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><title>{escape(title)}</title>',
        f'<line x1="{left}" y1="{top + plot_height}" x2="{width}" y2="{top + plot_height}" stroke="#999"/>',
    ]
    for index, (label, value, rendered) in enumerate(bars):
        bar_height = value * plot_height // peak if peak > 0 and value > 0 else 0
        x = left + index * slot
        y = top + plot_height - bar_height
        parts.append(
            f'<rect x="{x + 2}" y="{y}" width="{max(slot - 4, 1)}" height="{bar_height}" fill="#417690">'
            f"<title>{escape(label)}: {escape(rendered)}</title></rect>"
        )
        parts.append(
            f'<text x="{x + slot // 2}" y="{height - 12}" font-size="10" text-anchor="middle">{escape(label)}</text>'
        )
    parts.append(f'<text x="{left}" y="12" font-size="11">max {escape(_rendered_peak(bars, peak))}</text></svg>')
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated text is escaped above


def _rendered_peak(bars: list[tuple[str, int, str]], peak: int) -> str:
    for _, value, rendered in bars:
        if value == peak:
            return rendered
    return "0"
