"""The running-balance backfill, run on a database with history written before it existed."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from ledger.models import Account, Posting
from ledger.verification import ledger_verify

BEFORE = [("ledger", "0003_database_invariants")]
AFTER = [("ledger", "0006_posting_running_balances_required")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def migrate_to_latest() -> None:
    """Every app back at its last migration: going back to BEFORE also unapplied the migrations of
    other apps that depend on the ledger's later ones, which AFTER alone does not re-apply."""
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_backfill_writes_exact_running_balances_for_existing_history():
    old = migrate(BEFORE)
    try:
        history = _write_history(old)
        # when
        migrate(AFTER)
        # then: per account, (sequence, amount, balance_after, held_after) in entry then posting order
        rows = {
            account_id: list(
                Posting.objects.filter(account_id=account_id)
                .order_by("sequence")
                .values_list("sequence", "amount", "balance_after", "held_after", "entry_id")
            )
            for account_id in (history["alice"], history["funding"])
        }
        e1, e2, e3, e4 = history["entries"]
        assert rows[history["alice"]] == [
            (1, 100_00, 100_00, 0, e1),  # before any hold
            (2, -20_00, 80_00, 30_00, e2),  # the first hold is open
            (3, -10_00, 70_00, 30_00, e3),  # the second hold was captured by this entry
            (4, -5_00, 65_00, 30_00, e4),  # two legs on one account: consecutive sequences
            (5, -1_00, 64_00, 30_00, e4),
        ]
        assert [row[2] for row in rows[history["funding"]]] == [-100_00, -80_00, -70_00, -64_00]
        assert dict(Account.objects.filter(pk__in=rows).values_list("pk", "sequence")) == {
            history["alice"]: 5, history["funding"]: 4
        }
        created = dict(old.get_model("ledger", "JournalEntry").objects.values_list("pk", "created_at"))
        assert all(
            posting.posted_at == created[posting.entry_id] for posting in Posting.objects.filter(entry_id__in=created)
        )
        report = ledger_verify(record=False)
        assert report.is_ok, report.violations
        # and postings are still immutable after SQLite rebuilt the table
        with (
            pytest.raises(IntegrityError, match="immutable"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute("UPDATE ledger_posting SET amount = amount WHERE account_id = %s", [history["alice"]])
    finally:
        migrate_to_latest()


def _write_history(apps) -> dict:
    """Two accounts, four entries (one with two legs on the same account), a hold open since
    between the first and second entry, and one captured by the third entry; balances and held
    set as the services of the time would have left them."""
    Client = apps.get_model("accounts", "Client")
    User = apps.get_model("accounts", "User")
    Account = apps.get_model("ledger", "Account")
    JournalEntry = apps.get_model("ledger", "JournalEntry")
    Posting = apps.get_model("ledger", "Posting")
    Hold = apps.get_model("ledger", "Hold")

    client = Client.objects.create(name="History", slug="history")
    user = User.objects.create(username="history-alice", kind="end_user", client=client, external_id="h-1")
    alice = Account.objects.create(client=client, user=user, currency_id="USD", kind="user")
    funding = Account.objects.create(client=client, currency_id="USD", kind="funding", allows_negative=True)

    def entry(kind, legs):
        with transaction.atomic():  # PostgreSQL checks that the entry balances at commit
            created = JournalEntry.objects.create(client=client, kind=kind)
            for account, amount in legs:
                Posting.objects.create(entry=created, account=account, amount=amount)
        return created

    e1 = entry("deposit", [(funding, -100_00), (alice, 100_00)])
    open_hold = Hold.objects.create(account=alice, amount=30_00)
    e2 = entry("withdrawal", [(alice, -20_00), (funding, 20_00)])
    captured = Hold.objects.create(account=alice, amount=10_00)
    e3 = entry("withdrawal", [(alice, -10_00), (funding, 10_00)])
    e4 = entry("withdrawal", [(alice, -5_00), (alice, -1_00), (funding, 6_00)])
    # The hold timestamps as the services wrote them: created under the account lock between the
    # entries, the captured one closed just before its entry was created.
    Hold.objects.filter(pk=open_hold.pk).update(created_at=e1.created_at + (e2.created_at - e1.created_at) / 2)
    Hold.objects.filter(pk=captured.pk).update(
        created_at=e2.created_at + timedelta(microseconds=1),
        closed_at=e3.created_at - timedelta(microseconds=1),
        status="captured",
    )
    Account.objects.filter(pk=alice.pk).update(balance=64_00, held=30_00)
    Account.objects.filter(pk=funding.pk).update(balance=-64_00)
    return {"alice": alice.pk, "funding": funding.pk, "entries": [e1.pk, e2.pk, e3.pk, e4.pk]}
