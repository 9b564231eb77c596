"""Custody adapters: one interface (`base.CustodyAdapter`), one implementation per way of holding
coins. `adapter_for(network)` builds the network's adapter from its dotted path."""

from django.utils.module_loading import import_string

from chain.adapters.base import CustodyAdapter, IncomingTransfer, SignedTransaction, TxState, TxStatus
from chain.models import Network


def adapter_for(network: Network) -> CustodyAdapter:
    return import_string(network.adapter)(network)


__all__ = ["CustodyAdapter", "IncomingTransfer", "SignedTransaction", "TxState", "TxStatus", "adapter_for"]
