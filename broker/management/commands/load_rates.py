"""Bulk-load rates from a CSV (`currency,price` header) or JSON file, all or nothing.

JSON is either an object (`{"BTC": "65000.00", "ETH": "3200.5"}`) or a list of
`{"currency": ..., "price": ...}`. Numbers are read as exact decimals, never floats.
"""

import csv
import json
from decimal import Decimal
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from broker.models import RateHistory
from broker.services import rates_load
from core.errors import DomainError


class Command(BaseCommand):
    help = "Load rates (USD prices) from a CSV or JSON file; every change is kept in the rate history."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="A .csv (currency,price) or .json file.")

    def handle(self, *args, file: Path, **options):
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error}") from None
        prices = _read_json(text) if file.suffix.lower() == ".json" else _read_csv(text)
        if not prices:
            raise CommandError(f"{file} holds no rates.")
        try:
            rates = rates_load(prices=prices, source=RateHistory.Source.FILE)
        except DomainError as error:
            raise CommandError(f"Nothing loaded: {error.detail}") from None
        self.stdout.write(f"Loaded {len(rates)} rates: {', '.join(rate.currency_id for rate in rates)}.")


def _read_csv(text: str) -> list[tuple[str, str]]:
    reader = csv.DictReader(text.splitlines())
    if reader.fieldnames is None or not {"currency", "price"} <= {name.strip() for name in reader.fieldnames}:
        raise CommandError("A CSV needs a header with the columns currency,price.")
    return [(row["currency"].strip(), row["price"].strip()) for row in reader if any(row.values())]


def _read_json(text: str) -> list[tuple[str, Decimal | int | str]]:
    try:
        data = json.loads(text, parse_float=Decimal)
    except ValueError as error:
        raise CommandError(f"Invalid JSON: {error}") from None
    if isinstance(data, dict):
        return [(str(code), price) for code, price in data.items()]
    if isinstance(data, list) and all(isinstance(item, dict) and {"currency", "price"} <= item.keys() for item in data):
        return [(str(item["currency"]), item["price"]) for item in data]
    raise CommandError('JSON must be {"BTC": "65000.00", ...} or [{"currency": "BTC", "price": "65000.00"}, ...].')
