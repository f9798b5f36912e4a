"""``FakeExchange``: one venue's API over the shared book, served on 127.0.0.1 for the real ccxt client."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Literal

from tests.fakes.exchange.binance import Binance
from tests.fakes.exchange.binance_trades import TradeStream
from tests.fakes.exchange.book import DEFAULT_PRICES, Book, MarketSpec, order_record, trade_record
from tests.fakes.exchange.bybit import Bybit
from tests.fakes.exchange.coinbase import Coinbase
from tests.fakes.exchange.controls import ExchangeControls
from tests.fakes.exchange.mexc import Mexc
from tests.fakes.exchange.okx import Okx
from tests.fakes.exchange.scenarios import Scenarios
from tests.fakes.exchange.server import RequestRecord, Server, edge_page
from tests.fakes.exchange.venue import Credentials, Venue

Flavor = Literal["binance", "bybit", "okx", "mexc", "coinbase"]
FLAVORS: tuple[Flavor, ...] = ("binance", "bybit", "okx", "mexc", "coinbase")
VENUES: dict[str, type[Venue]] = {
    "binance": Binance,
    "bybit": Bybit,
    "okx": Okx,
    "mexc": Mexc,
    "coinbase": Coinbase,
}


class FakeExchange(ExchangeControls):
    """A stateful fake spot exchange served over HTTP for the real ccxt client (see the package doc)."""

    def __init__(
        self,
        flavor: Flavor,
        *,
        markets: list[MarketSpec] | None = None,
        balances: dict[str, str] | None = None,
        prices: dict[str, str] | None = None,
        api_key: str | None = None,
        api_secret: str | None = None,
        api_password: str = "test-passphrase",  # noqa: S107 - a fake's test credential (okx)
        fee_in_base_on_buy: bool | None = None,
    ) -> None:
        """``fee_in_base_on_buy``: take a buy's commission in the asset bought, as Binance, OKX and
        MEXC really do unless the account pays fees in BNB/OKB/MX (None: the venue module's choice)."""
        if flavor not in FLAVORS:
            raise ValueError(f"unknown flavor {flavor!r}")
        venue_type = VENUES[flavor]
        self.flavor: Flavor = flavor
        self.api_key = api_key if api_key is not None else venue_type.default_api_key()
        self.api_secret = api_secret if api_secret is not None else venue_type.default_secret()
        self.api_password = api_password
        self._book = Book(
            list(venue_type.default_markets if markets is None else markets),
            DEFAULT_PRICES if prices is None else prices,
            venue_type.default_balances if balances is None else balances,
            order_id=venue_type.order_id,
            trade_id=venue_type.trade_id,
            fee_in_base_on_buy=(
                venue_type.fee_in_base_on_buy if fee_in_base_on_buy is None else fee_in_base_on_buy
            ),
            min_notional=venue_type.min_notional,
        )
        self._scenarios = Scenarios(self._book)
        self._venue = venue_type(
            self._book, self._scenarios, Credentials(self.api_key, self.api_secret, api_password)
        )
        self._server = Server(self._venue, self._book.lock)
        # Binance's WebSocket API pings every 20 s and drops a connection whose pong is a minute late;
        # set these before start() to exercise the keepalive in a test (None: no pings).
        self.ws_ping_interval: float | None = 20.0
        self.ws_pong_timeout: float | None = 60.0

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> str:
        """Start serving in a daemon thread; returns the base URL (``http://127.0.0.1:PORT``)."""
        return self._server.start(self.ws_ping_interval, self.ws_pong_timeout)

    def stop(self) -> None:
        """Stop the server: close the port and every connection (held-back responses are abandoned)."""
        self._scenarios.cancel_timers()
        self._server.stop()
        with self._book.lock:
            if self._venue.stream is not None:
                self._venue.stream.forget()
            if self._venue.trade_stream is not None:
                self._venue.trade_stream.forget()

    def __enter__(self) -> FakeExchange:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """The URL the server listens on (raises if not started)."""
        return self._server.base_url

    # ------------------------------------------------------------------ ccxt wiring

    def ccxt_urls(self) -> dict[str, Any]:
        """``urls['api']`` for a ccxt client of this flavor: every key points at the fake.

        Flat ``{key: url}`` except for mexc, whose ``urls['api']`` is nested
        (``{'spot': {'public': ..., 'private': ...}, 'contract': {...}, ...}``).
        """
        return self._venue.ccxt_urls(self.base_url)

    def ccxt_config(self) -> dict[str, Any]:
        """Constructor config for ``ccxt.async_support.<flavor>`` talking to this fake."""
        return self._venue.ccxt_config(self.base_url)

    def ccxt_ws_urls(self) -> dict[str, Any]:
        """``urls['api']['ws']`` for ``ccxt.pro.binance``: every key points at the fake.

        Only ``['ws-api']['spot']`` (the spot WebSocket API, which carries the user-data stream) is
        served; market-data streams and the futures/options endpoints are refused at the handshake.
        """
        return self._venue.ccxt_ws_urls(lambda: self.base_url)

    def ccxt_pro_config(self) -> dict[str, Any]:
        """Constructor config for ``ccxt.pro.binance`` talking to this fake (REST and WebSocket)."""
        ws_urls = self.ccxt_ws_urls()  # raises for the venues without a stream
        config = self.ccxt_config()
        config["urls"] = {"api": {**self.ccxt_urls(), "ws": ws_urls}}
        return config

    # ------------------------------------------------------------------ what the exchange holds

    def order(self, client_order_id: str) -> dict[str, Any] | None:
        """The fake's own record of the latest order with this client order id (or None).

        Keys: id, client_order_id, symbol, side, type (market|limit), post_only, time_in_force,
        price, amount, filled, remaining, cost, fee, fee_asset (decimal strings), status
        (open|closed|canceled|expired), exchange_status (the flavor's wording), created_ms,
        updated_ms.
        """
        with self._book.lock:
            found = self._book.latest(client_order_id)
            return None if found is None else order_record(found, self._venue.exchange_status(found))

    @property
    def orders(self) -> list[dict[str, Any]]:
        """All orders ever accepted, oldest first (copies)."""
        with self._book.lock:
            return [order_record(o, self._venue.exchange_status(o)) for o in self._book.orders]

    @property
    def trades(self) -> list[dict[str, Any]]:
        """All executions, oldest first (copies)."""
        with self._book.lock:
            return [trade_record(trade) for trade in self._book.trades]

    @property
    def balances(self) -> dict[str, dict[str, str]]:
        """``{asset: {"free", "locked", "total"}}`` as decimal strings (copies)."""
        with self._book.lock:
            return self._book.balance_view()

    @property
    def stream_connections(self) -> int:
        """WebSocket API connections with an active user-data subscription (binance)."""
        with self._book.lock:
            return 0 if self._venue.stream is None else self._venue.stream.subscribed()

    def drop_streams(self, *, abort: bool = False) -> int:
        """Close every WebSocket API connection (and so every user-data stream); returns how many.

        The subscriptions end at once: later order changes are not pushed to them.  Events already
        queued still go out, then a close frame (1001, going away).  ``abort=True`` resets the TCP
        connection instead (no close frame, queued events lost), like a network failure.
        """
        with self._book.lock:
            return 0 if self._venue.stream is None else self._venue.stream.drop(abort=abort)

    # ------------------------------------------------------------------ public trade stream (binance)

    def push_trade(
        self,
        symbol: str,
        price: str,
        amount: str,
        taker: str = "buy",
        *,
        time_ms: int | None = None,
        trade_id: int | None = None,
    ) -> dict[str, Any]:
        """One public trade on ``<symbol>@trade`` (``taker``: the side that took liquidity; ``time_ms``:
        the trade time, now by default; ``trade_id``: the next of the symbol's ids by default, or give
        one again to send a duplicate). Returns the event as sent."""
        with self._book.lock:
            stream = self._trade_stream()
            return stream.push(
                self._book.markets[symbol].market_id,
                Decimal(price),
                Decimal(amount),
                taker,
                time_ms,
                trade_id,
            )

    def trade_subscribers(self, symbol: str) -> int:
        """Connections subscribed to the symbol's public trade stream."""
        with self._book.lock:
            return self._trade_stream().subscribers(self._book.markets[symbol].market_id)

    def drop_trade_streams(self, *, abort: bool = False) -> int:
        """Close every market-data connection (a close frame 1001, or ``abort``: a TCP reset)."""
        with self._book.lock:
            return self._trade_stream().drop(abort=abort)

    def pause_trade_stream(self, paused: bool = True) -> None:
        """Hold trade events back on open connections (a stalled stream); ``False`` sends them, late."""
        with self._book.lock:
            self._trade_stream().pause(paused)

    def _trade_stream(self) -> TradeStream:
        if self._venue.trade_stream is None:
            raise NotImplementedError(f"{self.flavor}: the fake has no public trade stream")
        return self._venue.trade_stream

    @property
    def request_log(self) -> list[RequestRecord]:
        """Every request that reached the server, in arrival order (copy)."""
        with self._book.lock:
            return self._server.request_log()

    def creates(self, client_order_id: str | None = None) -> int:
        """How many order-create requests reached the server (accepted, rejected or faulted)."""
        with self._book.lock:
            return self._server.creates(client_order_id)

    def server_error_body(self, status: int, kind: Literal["json", "html"]) -> str:
        """A body this exchange really sends with a 5xx: its API's own JSON error envelope
        (``"json"``), or the HTML page of the CDN or proxy in front of it (``"html"``)."""
        if kind == "html":
            return edge_page(self._venue.edge, self._venue.host, status)
        return json.dumps(self._venue.server_error_json(status), separators=(",", ":"))

    def reset(self) -> None:
        """Forget every order, trade, pending fault and request; balances back to where they started
        (one server shared by many short scenarios)."""
        with self._book.lock:
            self._book.reset()
            self._scenarios.reset()
            self._server.reset()
