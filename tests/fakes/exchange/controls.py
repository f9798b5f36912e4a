"""What a test makes the exchange do: move prices, fill and cancel orders as the exchange or the
user would, and stage faults and races.  Mixed into :class:`FakeExchange`; every control takes the
book's lock, since the server thread and timers touch the same state."""

from __future__ import annotations

import uuid
from decimal import Decimal

from tests.fakes.exchange.book import Book
from tests.fakes.exchange.scenarios import Scenarios
from tests.fakes.exchange.server import Server


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


class ExchangeControls:
    """The test-facing levers of a fake exchange."""

    _book: Book
    _scenarios: Scenarios
    _server: Server

    def set_price(self, symbol: str, price: str) -> None:
        """Move the market price; resting limit orders it crosses fill (maker, at their limit)."""
        with self._book.lock:
            self._book.set_price(symbol, Decimal(price))

    def fill(self, client_order_id: str, amount: str | None = None, price: str | None = None) -> None:
        """(Partially) fill an open order as maker; ``amount=None`` fills the rest."""
        with self._book.lock:
            self._book.fill(self._book.latest_open(client_order_id), _decimal(amount), _decimal(price))

    def cancel_manually(self, client_order_id: str) -> None:
        """Cancel an open order as if the user did it on the exchange's website."""
        with self._book.lock:
            order = self._book.latest_open(client_order_id)
            # binance: a cancel from the website carries a web_* client id of its own.
            self._book.cancel(order, cancel_type="CancelByUser", cancel_client_id=f"web_{uuid.uuid4().hex}")

    def set_balance(self, asset: str, free: str, locked: str | None = None) -> None:
        """Change what the account holds of ``asset`` by hand, as the user would on the exchange's
        website: selling some (``free`` lowered) or locking it in an order of their own (``locked``).
        Only the balance changes: no order, no trade."""
        with self._book.lock:
            self._book.free[asset] = Decimal(free)
            if locked is not None:
                self._book.locked[asset] = Decimal(locked)
            else:
                self._book.locked.setdefault(asset, Decimal(0))

    def rest_next_market_orders(self, times: int = 1, walking: bool = False) -> None:
        """The next ``times`` market orders find no liquidity: they rest open (a thin book) until
        filled (:meth:`fill`) or canceled (:meth:`cancel_manually`). An immediate-or-cancel one (the
        only kind of market order Coinbase and Bybit have) expires at once, unless ``walking``: then
        it stays open like an order the engine is still filling level by level."""
        with self._book.lock:
            self._book.resting_market_orders = times
            self._book.walking_market_orders = walking

    def fill_after_cancel(
        self, client_order_id: str, amount: str, price: str | None = None, delay_s: float = 0.3
    ) -> None:
        """The next cancel of this order (ours, by hand, or a cancel-all) is answered "canceled" as
        usual, and ``delay_s`` later a trade of ``amount`` lands on it all the same: the fill raced
        the cancel on the wire.  It shows in later order lookups (still canceled, more executed, or
        filled if nothing remains), in the trade history, and on the user-data stream.
        """
        with self._book.lock:
            self._scenarios.fill_after_cancel(client_order_id, Decimal(amount), _decimal(price), delay_s)

    def fill_canceled(self, client_order_id: str, amount: str, price: str | None = None) -> None:
        """A trade of ``amount`` on the latest (canceled or expired) order with this client id, now."""
        with self._book.lock:
            order = self._book.latest(client_order_id)
            if order is None or order.status not in ("canceled", "expired"):
                raise KeyError(f"no canceled order with client order id {client_order_id!r}")
            self._book.fill(order, Decimal(amount), _decimal(price))

    def hide_order(self, client_order_id: str, lookups: int) -> None:
        """The next ``lookups`` lookups of this order (by id/client id, open-order lists, cancel) miss it."""
        with self._book.lock:
            self._scenarios.hide(client_order_id, lookups)

    def fill_on_checks(self, client_order_id: str, amounts: list[str]) -> None:
        """Each following status check (fetch by id/client id) first fills the next amount."""
        with self._book.lock:
            self._scenarios.fill_on_checks(client_order_id, [Decimal(a) for a in amounts])

    def fail_next(
        self,
        method: str,
        path_contains: str,
        status: int = 500,
        times: int = 1,
        retry_after: int | None = None,
        body: str | None = None,
        processed: bool = False,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` instead of executing them.

        ``method`` is an HTTP method or ``"*"``.  Without ``body`` the answer is what the
        exchange's edge sends: an HTML page for 5xx, the exchange's rate-limit JSON for 429/418
        (:meth:`FakeExchange.server_error_body` gives each exchange's own 5xx answers).
        ``retry_after`` adds a ``Retry-After`` header.  ``processed=True``: the request IS executed
        (an order is placed) and only then answered with the fault, as when the matching engine
        took the order but the gateway in front of it failed or timed out.
        """
        with self._book.lock:
            self._server.fail_next(method, path_contains, status, times, retry_after, body, processed)

    def clear_faults(self) -> None:
        """Withdraw every fault still queued by ``fail_next`` (the exchange answers again)."""
        with self._book.lock:
            self._server.clear_faults()

    def delay_next_create(self, seconds: float, times: int = 1) -> None:
        """The next creates execute at once but their response is held back ``seconds``."""
        with self._book.lock:
            self._server.delay_next_create(seconds, times)

    def drop_next_create(self, times: int = 1) -> None:
        """The next creates execute but the connection is closed without any response."""
        with self._book.lock:
            self._server.drop_next_create(times)
