from django.core.management.base import BaseCommand

from ledger.verification import ledger_verify


class Command(BaseCommand):
    help = "Recompute balances from postings; check every entry balances and money is conserved."

    def add_arguments(self, parser):
        parser.add_argument("--no-record", action="store_true", help="Do not store the result.")

    def handle(self, *args, **options):
        report = ledger_verify(record=not options["no_record"])
        self.stdout.write(
            f"Checked {report.accounts_checked} accounts and {report.entries_checked} journal entries."
        )
        for currency, total in sorted(report.totals.items()):
            self.stdout.write(f"  {currency}: balances sum to {total}")
        if report.is_ok:
            self.stdout.write(self.style.SUCCESS("Ledger OK: balances match postings, every entry balances."))
            return
        self.stderr.write(self.style.ERROR(f"{len(report.violations)} violation(s):"))
        for violation in report.violations:
            self.stderr.write(f"  {violation}")
        raise SystemExit(1)
