from django.core.management.base import BaseCommand

from events.services import events_purge


class Command(BaseCommand):
    help = "Delete events older than EVENT_RETENTION_DAYS with their deliveries (run it daily, e.g. from cron)."

    def handle(self, *args, **options):
        deleted = events_purge()
        self.stdout.write(f"Deleted {deleted} events older than the retention period.")
