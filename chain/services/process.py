"""One pass of the crypto rails over every active network: watch deposits, send queued
withdrawals, track broadcast ones. Run by the worker (`chain_process_task`) and by
`manage.py chain_process [--every N]`. Every step is idempotent, so passes may overlap or repeat.
"""

import logging

from chain.errors import ChainUnavailableError, CustodyConfigurationError
from chain.models import CryptoWithdrawal, Network
from chain.services.deposits import chain_deposits_scan
from chain.services.withdrawals import crypto_withdrawal_send, crypto_withdrawal_track
from core.errors import DomainError

logger = logging.getLogger(__name__)


def chain_process(*, network_code: str | None = None) -> dict[str, int]:
    networks = Network.objects.filter(is_active=True)
    if network_code:
        networks = networks.filter(code=network_code)
    counts = {"detected": 0, "credited": 0, "dropped": 0, "sent": 0, "tracked": 0, "errors": 0}
    for network in networks:
        try:
            scan = chain_deposits_scan(network=network)
        except (ChainUnavailableError, CustodyConfigurationError) as error:
            logger.warning("chain scan skipped", extra={"network": network.code, "error": str(error)})
            counts["errors"] += 1
            continue
        counts["detected"] += scan.detected
        counts["credited"] += scan.credited
        counts["dropped"] += scan.dropped
        queued = CryptoWithdrawal.objects.filter(
            network=network, status__in=[CryptoWithdrawal.Status.PENDING, CryptoWithdrawal.Status.BROADCASTING]
        )
        for withdrawal_id in queued.order_by("pk").values_list("pk", flat=True):
            try:
                sent = crypto_withdrawal_send(withdrawal_id=withdrawal_id)
            except DomainError as error:
                logger.warning("crypto withdrawal not sent", extra={"withdrawal": withdrawal_id, "error": str(error)})
                counts["errors"] += 1
                continue
            counts["sent"] += sent.status == CryptoWithdrawal.Status.BROADCAST
        broadcast = CryptoWithdrawal.objects.select_related("network").filter(
            network=network, status=CryptoWithdrawal.Status.BROADCAST
        )
        for withdrawal in broadcast.order_by("pk"):
            try:
                crypto_withdrawal_track(withdrawal=withdrawal)
            except DomainError as error:
                logger.warning(
                    "crypto withdrawal not tracked", extra={"withdrawal": withdrawal.pk, "error": str(error)}
                )
                counts["errors"] += 1
                continue
            counts["tracked"] += 1
    return counts
