"""The worker's housekeeping: clean-ups that never run on a request or inside a movement."""

from datetime import timedelta

from django.utils import timezone

from broker.worker import worker_recover
from core.models import IdempotencyRecord
from operations.compliance import _COUNTER_RETENTION_MINUTES, _minute
from operations.models import MovementCount


def test_recovery_purges_expired_idempotency_records_and_old_movement_counters(tenant):
    # given one expired and one live idempotency record, one stale and one recent counter
    now = timezone.now()
    expired = IdempotencyRecord.objects.create(
        scope="client:1", key="old", request_hash="0" * 64, expires_at=now - timedelta(seconds=1)
    )
    live = IdempotencyRecord.objects.create(
        scope="client:1", key="new", request_hash="0" * 64, expires_at=now + timedelta(hours=1)
    )
    current = _minute(now)
    stale = MovementCount.objects.create(user=tenant.user, minute=current - _COUNTER_RETENTION_MINUTES - 1)
    recent, _ = MovementCount.objects.get_or_create(user=tenant.peer, minute=current)
    # when
    counts = worker_recover(orphan_after=timedelta(seconds=30))
    # then: only the expired and the stale rows are gone
    assert counts["purged"] >= 2
    assert not IdempotencyRecord.objects.filter(pk=expired.pk).exists()
    assert IdempotencyRecord.objects.filter(pk=live.pk).exists()
    assert not MovementCount.objects.filter(pk=stale.pk).exists()
    assert MovementCount.objects.filter(pk=recent.pk).exists()
