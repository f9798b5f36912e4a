"""How each exchange takes, finds and cancels an order by its client order id.

ccxt unifies `clientOrderId` on create, but looking an order up by it differs per exchange; anything
not listed here falls back to scanning open and recent closed orders.
"""

from __future__ import annotations

from typing import Any, ClassVar

import ccxt
import ccxt.async_support as ccxt_async

from tradewire.adapters.live.errors import http_status, is_not_found


class ClientIdDialect:
    """The generic way: ccxt's unified param on create, a scan of open and closed orders to find."""

    def create_params(self, client_order_id: str) -> dict[str, Any]:
        return {"clientOrderId": client_order_id}

    async def fetch(
        self, client: ccxt_async.Exchange, symbol: str, client_order_id: str
    ) -> dict[str, Any] | None:
        for capability, method in (
            ("fetchOpenOrders", client.fetch_open_orders),
            ("fetchClosedOrders", client.fetch_closed_orders),
        ):
            if not client.has.get(capability):
                continue
            for order in await method(symbol):
                if order.get("clientOrderId") == client_order_id:
                    return dict(order)
        return None

    async def cancel(self, client: ccxt_async.Exchange, symbol: str, client_order_id: str) -> None:
        order = await self.fetch(client, symbol, client_order_id)
        if order is None:
            raise ccxt.OrderNotFound(f"order {client_order_id} not found")
        await client.cancel_order(order["id"], symbol)


class LookupByParam(ClientIdDialect):
    """An exchange that takes our id as one parameter on create and finds or cancels an order in any
    status by another (`lookup_param`)."""

    create_param: ClassVar[str]
    lookup_param: ClassVar[str]
    cancel_order_id: ClassVar[str | None] = ""  # what goes in ccxt's order id argument of a cancel

    def create_params(self, client_order_id: str) -> dict[str, Any]:
        return {self.create_param: client_order_id}

    async def fetch(
        self, client: ccxt_async.Exchange, symbol: str, client_order_id: str
    ) -> dict[str, Any] | None:
        # The order id is '' (Bybit would send None as the text 'None').
        try:
            return dict(await client.fetch_order("", symbol, {self.lookup_param: client_order_id}))
        except ccxt.OrderNotFound as exc:
            if is_not_found(exc):
                return None
            raise

    async def cancel(self, client: ccxt_async.Exchange, symbol: str, client_order_id: str) -> None:
        await client.cancel_order(self.cancel_order_id, symbol, {self.lookup_param: client_order_id})


class BinanceIds(LookupByParam):
    """Binance: newClientOrderId on create, origClientOrderId to fetch or cancel (any status)."""

    create_param = "newClientOrderId"
    lookup_param = "origClientOrderId"


class BybitIds(LookupByParam):
    """Bybit v5: orderLinkId on create, fetch and cancel. Queried by it, /v5/order/realtime answers
    orders in any status; ccxt's generic clientOrderId is ignored by Bybit."""

    create_param = lookup_param = "orderLinkId"
    cancel_order_id = None


class OkxIds(LookupByParam):
    """OKX v5: clOrdId (letters and digits only) on create, fetch and cancel."""

    create_param = lookup_param = "clOrdId"


class MexcIds(BinanceIds):
    """MEXC spot v3 (Binance-like); ccxt reports its unknown-order answer as a plain ExchangeError."""

    async def fetch(
        self, client: ccxt_async.Exchange, symbol: str, client_order_id: str
    ) -> dict[str, Any] | None:
        try:
            return await super().fetch(client, symbol, client_order_id)
        except ccxt.ExchangeError as exc:
            said_absent = "-2013" in str(exc) or "does not exist" in str(exc).lower()
            if said_absent and (http_status(exc) or 0) < 500:
                return None
            raise


class CoinbaseIds(ClientIdDialect):
    """Coinbase Advanced Trade: client_order_id on create (ccxt drops the unified one); no lookup by
    it, so orders are found by scanning the open list, then the latest orders in every status: ccxt's
    'closed' list is Coinbase's FILLED orders only, without the CANCELLED, EXPIRED and FAILED ones."""

    def create_params(self, client_order_id: str) -> dict[str, Any]:
        return {"client_order_id": client_order_id}

    async def fetch(
        self, client: ccxt_async.Exchange, symbol: str, client_order_id: str
    ) -> dict[str, Any] | None:
        for method in (client.fetch_open_orders, client.fetch_orders):
            for order in await method(symbol):
                if order.get("clientOrderId") == client_order_id:
                    return dict(order)
        return None

    async def cancel(self, client: ccxt_async.Exchange, symbol: str, client_order_id: str) -> None:
        for order in await client.fetch_open_orders(symbol):  # only an open order can be canceled
            if order.get("clientOrderId") == client_order_id:
                await client.cancel_order(order["id"], symbol)
                return
        raise ccxt.OrderNotFound(f"no open order {client_order_id}")


DIALECTS: dict[str, ClientIdDialect] = {
    "binance": BinanceIds(),
    "bybit": BybitIds(),
    "okx": OkxIds(),
    "mexc": MexcIds(),
    "coinbase": CoinbaseIds(),
}


def dialect_for(exchange_id: str) -> ClientIdDialect:
    return DIALECTS.get(exchange_id, ClientIdDialect())
