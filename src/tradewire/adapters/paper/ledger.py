"""The paper venue's wallets in memory: each account's free and reserved amount per asset, what fills
and resting orders do to them, and which changed since the last save (adapters/paper/venue.py)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal

from tradewire.adapters.paper.books import OrderKey, PaperOrder, Wallet, now_ms
from tradewire.domain.balances import AssetBalance
from tradewire.domain.markets import Market
from tradewire.domain.orders import OrderRequest, OrderSide
from tradewire.domain.partitions import Partitions


class Ledger:
    """Wallets by account; an account the ledger has not seen starts with the starting balance."""

    def __init__(
        self, markets: Mapping[str, Market], fee_rate: Decimal, starting: Mapping[str, Decimal]
    ) -> None:
        self._markets = markets
        self.fee_rate = fee_rate
        self.starting = dict(starting)
        self._wallets: dict[int, dict[str, Wallet]] = {}
        self._dirty: set[OrderKey] = set()  # (account id, asset) changed since the last `changed()`

    def replace(self, wallets: dict[int, dict[str, Wallet]]) -> None:
        """The wallets as stored (a reload after a failed save): nothing pending."""
        self._wallets, self._dirty = wallets, set()

    def adopt(self, wallets: Mapping[int, dict[str, Wallet]]) -> None:
        """These accounts' wallets as their last owner stored them (a partition taken)."""
        self._wallets.update(wallets)

    def forget(self, partitions: Partitions) -> None:
        for account_id in [a for a in self._wallets if partitions.owns(a)]:
            del self._wallets[account_id]

    def wallet(self, account_id: int) -> dict[str, Wallet]:
        wallet = self._wallets.get(account_id)
        if wallet is None:
            wallet = {asset: Wallet(free=amount) for asset, amount in self.starting.items()}
            self._wallets[account_id] = wallet
            self._dirty.update((account_id, asset) for asset in wallet)
        return wallet

    def detail(self, account_id: int) -> dict[str, AssetBalance]:
        """Free, reserved by open orders, and total per asset."""
        return {a: AssetBalance(w.free, w.used, w.free + w.used) for a, w in self.wallet(account_id).items()}

    def totals(self, account_id: int) -> dict[str, Decimal]:
        """Total (free + reserved) per asset."""
        return {a: w.free + w.used for a, w in self.wallet(account_id).items()}

    def shortfall(self, account_id: int, market: Market, request: OrderRequest, price: Decimal) -> str | None:
        """Why the account cannot pay for the order at `price` (a buy: its cost and fee in the quote
        asset; a sale: the base asset), or None when its free balance covers it."""
        wallet = self.wallet(account_id)
        if request.side is OrderSide.BUY:
            need = request.amount * price * (1 + self.fee_rate)
            have = wallet.get(market.quote, Wallet()).free
            if have < need:
                return f"insufficient balance: need {need:.8f} {market.quote}, have {have:f}"
        else:
            have = wallet.get(market.base, Wallet()).free
            if have < request.amount:
                return f"insufficient balance: need {request.amount} {market.base}, have {have}"
        return None

    def fill(self, order: PaperOrder, price: Decimal) -> None:
        """Fill the whole order at `price`, the fee taken in the quote currency."""
        market = self._markets[order.symbol]
        wallet = self.wallet(order.account_id)
        cost = order.amount * price
        fee = cost * self.fee_rate
        base = wallet.setdefault(market.base, Wallet())
        quote = wallet.setdefault(market.quote, Wallet())
        if order.side is OrderSide.BUY:
            quote.free -= cost + fee
            base.free += order.amount
        else:
            base.free -= order.amount
            quote.free += cost - fee
        self._dirty.update({(order.account_id, market.base), (order.account_id, market.quote)})
        order.status, order.filled, order.average, order.fee = "closed", order.amount, price, fee
        order.fee_currency, order.updated_ms = market.quote, now_ms()

    def reserve(self, order: PaperOrder, sign: int = 1) -> None:
        """Hold what a resting limit order may spend (its cost and fee, or the amount it sells)."""
        market = self._markets[order.symbol]
        wallet = self.wallet(order.account_id)
        assert order.price is not None
        if order.side is OrderSide.BUY:
            asset, amount = market.quote, order.amount * order.price * (1 + self.fee_rate)
        else:
            asset, amount = market.base, order.amount
        held = wallet.setdefault(asset, Wallet())
        held.free -= sign * amount
        held.used += sign * amount
        self._dirty.add((order.account_id, asset))

    def release(self, order: PaperOrder) -> None:
        self.reserve(order, sign=-1)

    def changed(self) -> Iterator[dict[str, object]]:
        """The rows of the wallets changed since the last call (taken: no longer pending)."""
        dirty, self._dirty = self._dirty, set()
        for account_id, asset in dirty:
            w = self._wallets[account_id][asset]
            yield {"account_id": account_id, "asset": asset, "free": w.free, "used": w.used}
