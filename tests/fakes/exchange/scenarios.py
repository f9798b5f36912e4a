"""What a test stages on single orders: lookups that miss them, fills on status checks, fills that
race a cancel.  Every venue's handlers ask :meth:`Scenarios.hides` before showing an order and call
:meth:`Scenarios.status_check` on a direct lookup, so one staging works on every venue."""

from __future__ import annotations

import threading
from decimal import Decimal

from tests.fakes.exchange.book import Book, Order, OrderEvent


class Scenarios:
    """Staged order behaviour; called under ``book.lock``."""

    def __init__(self, book: Book) -> None:
        self.book = book
        self._hidden: dict[str, int] = {}
        self._fill_checks: dict[str, list[Decimal]] = {}
        self._late_fills: dict[str, tuple[Decimal, Decimal | None, float]] = {}
        self._timers: list[threading.Timer] = []
        book.listeners.append(self._on_event)

    def hide(self, client_order_id: str, lookups: int) -> None:
        self._hidden[client_order_id] = lookups

    def fill_on_checks(self, client_order_id: str, amounts: list[Decimal]) -> None:
        self._fill_checks[client_order_id] = amounts

    def fill_after_cancel(
        self, client_order_id: str, qty: Decimal, price: Decimal | None, delay: float
    ) -> None:
        self._late_fills[client_order_id] = (qty, price, delay)

    def hides(self, order: Order) -> bool:
        """Consume one hidden lookup of this order; True while it is still hidden."""
        left = self._hidden.get(order.client_order_id, 0)
        if left <= 0:
            return False
        self._hidden[order.client_order_id] = left - 1
        return True

    def status_check(self, order: Order) -> None:
        """A direct status check: apply the next scheduled partial fill, if any."""
        pending = self._fill_checks.get(order.client_order_id)
        if not pending or order.status != "open":
            return
        qty = min(pending.pop(0), order.remaining)
        if qty > 0:
            self.book.execute(order, qty, order.price or self.book.prices[order.symbol], maker=True)

    def _on_event(self, event: OrderEvent) -> None:
        """Once an order is canceled (or expired), schedule the fill that raced the cancel."""
        if event.kind not in ("CANCELED", "EXPIRED"):
            return
        late = self._late_fills.pop(event.order.client_order_id, None)
        if late is None:
            return
        qty, price, delay = late
        order = event.order

        def land() -> None:
            with self.book.lock:
                self.book.fill(order, qty, price)

        timer = threading.Timer(delay, land)
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def cancel_timers(self) -> None:
        for timer in self._timers:
            timer.cancel()

    def reset(self) -> None:
        self._hidden.clear()
        self._fill_checks.clear()
