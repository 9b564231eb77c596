from datetime import date, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ledger.errors import SnapshotDayNotOverError
from ledger.services.snapshots import balance_snapshot_take


class Command(BaseCommand):
    help = (
        "Store every account's closing balance at the end of a day (LEDGER_SNAPSHOT_TIMEZONE). "
        "Idempotent per day."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--date",
            type=date.fromisoformat,
            default=None,
            help="YYYY-MM-DD (default: yesterday in LEDGER_SNAPSHOT_TIMEZONE).",
        )

    def handle(self, *args, **options):
        today = timezone.now().astimezone(ZoneInfo(settings.LEDGER_SNAPSHOT_TIMEZONE)).date()
        day = options["date"] or today - timedelta(days=1)
        try:
            written = balance_snapshot_take(day=day)
        except SnapshotDayNotOverError as error:
            raise CommandError(error.detail) from None
        self.stdout.write(self.style.SUCCESS(f"Snapshot {day}: {written} account balance(s) stored."))
