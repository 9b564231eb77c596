"""A development Ethereum node: eth-tester's py-evm chain served over HTTP JSON-RPC on localhost.

An in-process chain lives in one process, and `make run` runs two (runserver and db_worker):
both point ETHEREUM_RPC_URL (http://127.0.0.1:8545 in development) at this node instead, and
talk to it through the same web3 HTTP provider production uses with a real node. Development
only: the chain starts empty on every start, its accounts are eth-tester's well-known unlocked
ones, and it listens on 127.0.0.1.

At start it deploys the test ERC-20 that plays USDT and points the `ethereum` network's USDT
asset at it, and rewinds the network's scan cursor to the new chain. It mines an empty block every
`--block-time` seconds so confirmations advance (transactions are mined at once).

Requests go through web3's own eth-tester middleware (the formatting EthereumTesterProvider
applies in-process); answers are that same data as JSON, so a web3 client reads exactly what it
would read in-process.
"""

import json
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from hexbytes import HexBytes
from web3 import EthereumTesterProvider, Web3

from chain.devchain import token_deploy, usdt_point_at
from chain.models import Network

MAX_BODY = 1_000_000


def _jsonable(value):
    if isinstance(value, bytes | bytearray | HexBytes):
        return "0x" + bytes(value).hex()
    if isinstance(value, Mapping):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value


def rpc_handler(w3: Web3):
    """A request handler class answering JSON-RPC (single or batch) from `w3`'s tester chain."""
    request_func = w3.provider.request_func(w3, w3.middleware_onion)

    def answer(call: dict) -> dict:
        call_id = call.get("id")
        try:
            response = dict(request_func(call["method"], call.get("params") or []))
        except Exception as error:  # every failure is an RPC error, as a node answers
            return {"jsonrpc": "2.0", "id": call_id, "error": {"code": -32000, "message": str(error)}}
        response["id"] = call_id
        return _jsonable(response)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the http.server hook name
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= MAX_BODY:
                self.send_error(413 if length else 400)
                return
            try:
                payload = json.loads(self.rfile.read(length))
            except ValueError:
                self.send_error(400)
                return
            result = [answer(call) for call in payload] if isinstance(payload, list) else answer(payload)
            body = json.dumps(result).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):  # noqa: A002 - quiet: one line per request is noise here
            return

    return Handler


class Command(BaseCommand):
    help = "Serve a development Ethereum chain (eth-tester, py-evm) over JSON-RPC on localhost."

    def add_arguments(self, parser):
        parser.add_argument("--block-time", type=int, default=5, help="Seconds between empty blocks.")

    def handle(self, *args, block_time: int, **options):
        url = urlsplit(settings.ETHEREUM_RPC_URL)
        if not settings.DEBUG or url.scheme != "http" or url.hostname not in ("127.0.0.1", "localhost"):
            # A configured node (or production) is never shadowed, nor its token address rewritten.
            self.stdout.write("ETHEREUM_RPC_URL is not a local http URL (or DEBUG is off): no development chain.")
            return
        port = url.port or 80
        provider = EthereumTesterProvider()
        tester = provider.ethereum_tester
        if tester is None:
            raise CommandError("eth-tester did not start.")
        w3 = Web3(provider)
        funder = w3.eth.accounts[0]
        token = token_deploy(w3, deployer=funder)
        usdt_point_at(token.address)
        Network.objects.filter(code="ethereum").update(scan_cursor=0)
        try:
            server = HTTPServer(("127.0.0.1", port), rpc_handler(w3))
        except OSError as error:
            raise CommandError(f"Cannot listen on 127.0.0.1:{port}: {error}") from None
        server.timeout = min(block_time, 1.0)
        self.stdout.write(
            f"development chain on {settings.ETHEREUM_RPC_URL} (chain id {w3.eth.chain_id}); USDT at {token.address}; "
            f"unlocked funder {funder}"
        )
        next_block = time.monotonic() + block_time
        try:
            while True:
                server.handle_request()
                if time.monotonic() >= next_block:
                    tester.mine_blocks(1)
                    next_block = time.monotonic() + block_time
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
