"""What an entry asks of the position it opens: the subscription's exit rules, the signal's levels,
and the DCA tranches still to buy."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from tradewire.domain.exits import ExitLevels, ExitRules
from tradewire.domain.money import fmt
from tradewire.domain.tranches import DcaPlan


@dataclass(frozen=True, slots=True)
class ExitPlan:
    """Rules in %, and absolute stop/target prices from the signal that win over them."""

    rules: ExitRules
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    dca: DcaPlan | None = None
    later: tuple[Decimal, ...] = field(default=())  # DCA: amounts of tranches 2 ... n

    @property
    def is_empty(self) -> bool:
        return (
            self.stop_loss is None
            and self.take_profit is None
            and not self.rules.as_json()
            and not self.later
        )

    def levels(self, entry: Decimal, opened_at_s: float, best: Decimal | None = None) -> ExitLevels:
        """The position's levels at its current average entry (a DCA add moves percentage levels)."""
        levels = self.rules.levels("long", entry, opened_at_s, self.stop_loss, self.take_profit)
        return replace(levels, best_price=best) if best is not None and best > levels.best_price else levels

    def stop_at(self, price: Decimal) -> Decimal | None:
        """The stop price an entry at `price` would get."""
        if self.stop_loss is not None:
            return self.stop_loss
        pct = self.rules.stop_loss_pct
        return price * (1 - pct / 100) if pct is not None else None

    def target_at(self, price: Decimal) -> Decimal | None:
        if self.take_profit is not None:
            return self.take_profit
        pct = self.rules.take_profit_pct
        return price * (1 + pct / 100) if pct is not None else None

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"rules": self.rules.as_json()}
        if self.stop_loss is not None:
            data["stop_loss"] = fmt(self.stop_loss)
        if self.take_profit is not None:
            data["take_profit"] = fmt(self.take_profit)
        if self.dca is not None and self.later:
            data["dca"] = self.dca.as_json()
            data["later"] = [fmt(a) for a in self.later]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> ExitPlan | None:
        if not data:
            return None
        return cls(
            ExitRules.from_json(data.get("rules")),
            Decimal(data["stop_loss"]) if data.get("stop_loss") else None,
            Decimal(data["take_profit"]) if data.get("take_profit") else None,
            DcaPlan.from_json(data.get("dca")),
            tuple(Decimal(a) for a in data.get("later") or ()),
        )
