from django.core.management.base import BaseCommand

from core.api.idempotency import idempotency_purge


class Command(BaseCommand):
    help = "Delete Idempotency-Key records older than IDEMPOTENCY_TTL_HOURS (run it daily, e.g. from cron)."

    def handle(self, *args, **options):
        deleted = idempotency_purge()
        self.stdout.write(f"Deleted {deleted} expired idempotency records.")
