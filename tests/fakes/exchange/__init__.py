"""A local fake Binance / Bybit / OKX / MEXC / Coinbase spot REST server for the *real* ccxt client.

``FakeExchange(flavor)`` serves one venue with uvicorn + Starlette in a daemon thread on
``127.0.0.1`` (random free port).  Point a ccxt client at it with
``ccxt.async_support.binance(fake.ccxt_config())`` (the config carries the ``urls['api']``
overrides, credentials and the options ccxt needs to stay on the spot endpoints).

Where things are:

* :mod:`.book` — markets, balances, orders, trades and the matching engine every venue shares
  (how orders fill, where the commission goes).
* :mod:`.scenarios` — what a test stages on single orders: hidden lookups, fills on status checks,
  fills that race a cancel.
* :mod:`.server` — HTTP plumbing: the uvicorn thread, the request log, injected faults (error
  answers with the edge's HTML or the API's JSON, ``processed`` faults, held-back and dropped
  responses).  :mod:`.websocket` is the RFC 6455 transport uvicorn needs for the binance stream.
* :mod:`.venue` — what a venue module fills in, and the request dispatch.
* one module per venue, each saying what it models and why: :mod:`.binance` (and
  :mod:`.binance_stream`, the user-data stream), :mod:`.bybit`, :mod:`.okx`, :mod:`.mexc` (built on
  binance's classes), :mod:`.coinbase`.
* :mod:`.controls` and :mod:`.fake` — the test-facing ``FakeExchange``.

Everything in here is test-only; no network beyond 127.0.0.1 is ever used.
"""

from tests.fakes.exchange.book import DEFAULT_MARKETS, FEE_RATE, MarketSpec
from tests.fakes.exchange.fake import FLAVORS, FakeExchange, Flavor
from tests.fakes.exchange.server import RequestRecord

__all__ = ["DEFAULT_MARKETS", "FEE_RATE", "FLAVORS", "FakeExchange", "Flavor", "MarketSpec", "RequestRecord"]
