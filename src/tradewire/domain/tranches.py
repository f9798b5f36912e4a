"""DCA: a position built from several entries (tranches), and the phase it is in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from tradewire.domain.money import fmt

HUNDRED = Decimal(100)
MAX_TRANCHES = 10


class DcaMode(StrEnum):
    """How the entry is split and when the later tranches are bought.

    EQUAL: equal parts, each bought after the price falls another `step_pct` below the first fill.
    PYRAMID_DOWN: the same triggers, parts growing 1, 2, 3 ...: more is bought the lower it goes.
    PYRAMID_UP: parts shrinking n, n-1 ... 1, bought as the price RISES by `step_pct` steps: adding
      to a winner, less each time.
    ADAPTIVE: PYRAMID_DOWN's parts and triggers, each scaled at its fill by how far the price really
      fell past the entry relative to its planned trigger (a gap buys more, capped at double).
    """

    EQUAL = "equal"
    PYRAMID_UP = "pyramid_up"
    PYRAMID_DOWN = "pyramid_down"
    ADAPTIVE = "adaptive"


class PositionPhase(StrEnum):
    """BUILDING while tranches are still to be bought; REDUCING once partly sold."""

    BUILDING = "BUILDING"
    OPEN = "OPEN"
    REDUCING = "REDUCING"
    CLOSED = "CLOSED"


@dataclass(frozen=True, slots=True)
class Tranche:
    """One later entry of a position: its number (2 ... n), planned amount and trigger price."""

    number: int
    amount: Decimal
    trigger: Decimal

    def as_json(self) -> dict[str, Any]:
        return {"number": self.number, "amount": fmt(self.amount), "trigger": fmt(self.trigger)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Tranche:
        return cls(int(data["number"]), Decimal(data["amount"]), Decimal(data["trigger"]))


@dataclass(frozen=True, slots=True)
class DcaPlan:
    """A subscription's DCA settings: how many tranches, how they are weighted, how far apart."""

    mode: DcaMode = DcaMode.EQUAL
    tranches: int = 3
    step_pct: Decimal = Decimal(2)

    def __post_init__(self) -> None:
        if not 2 <= self.tranches <= MAX_TRANCHES:
            raise ValueError(f"tranches must be between 2 and {MAX_TRANCHES}, got {self.tranches}")
        if not 0 < self.step_pct < 100 / self.tranches:
            raise ValueError(
                f"step_pct must be above 0 and below {100 / self.tranches:.4g} for {self.tranches} tranches"
            )

    @property
    def rising(self) -> bool:
        """True if later tranches are bought as the price rises."""
        return self.mode is DcaMode.PYRAMID_UP

    def weights(self) -> tuple[Decimal, ...]:
        n = self.tranches
        if self.mode is DcaMode.EQUAL:
            raw = [Decimal(1)] * n
        elif self.mode is DcaMode.PYRAMID_UP:
            raw = [Decimal(n - i) for i in range(n)]
        else:
            raw = [Decimal(i + 1) for i in range(n)]
        total = sum(raw, Decimal(0))
        return tuple(w / total for w in raw)

    def split(self, total: Decimal) -> tuple[Decimal, tuple[Decimal, ...]]:
        """The first tranche's amount and the later ones' (they add up to `total`)."""
        parts = [total * w for w in self.weights()]
        return parts[0], tuple(parts[1:])

    def schedule(self, later: tuple[Decimal, ...], first_fill: Decimal) -> tuple[Tranche, ...]:
        """Trigger prices of the later tranches, `step_pct` apart from the first fill."""
        sign = 1 if self.rising else -1
        return tuple(
            Tranche(k + 2, amount, first_fill * (1 + sign * self.step_pct * (k + 1) / HUNDRED))
            for k, amount in enumerate(later)
        )

    def amount_at(
        self, tranche: Tranche, entry: Decimal, price: Decimal, room: Decimal | None = None
    ) -> Decimal:
        """What a triggered tranche buys at `price`: its plan, or for ADAPTIVE scaled by the real move,
        the part above the plan no more than `room` (quote units) pays for (see `tranche_room`)."""
        if self.mode is not DcaMode.ADAPTIVE or entry <= tranche.trigger:
            return tranche.amount
        planned = entry - tranche.trigger
        scale = min(max((entry - price) / planned, Decimal(1)), Decimal(2))
        amount = tranche.amount * scale
        if room is not None:
            amount = max(tranche.amount, min(amount, room / price))
        return amount

    def budget(self, later: Sequence[Decimal], first_fill: Decimal) -> Decimal:
        """What the whole position an entry planned costs at its first fill: the size the entry was
        sized and approved for (the first tranche is the weights' share the later ones leave)."""
        return sum(later, Decimal(0)) / (1 - self.weights()[0]) * first_fill

    def as_json(self) -> dict[str, Any]:
        return {"mode": self.mode.value, "tranches": self.tranches, "step_pct": fmt(self.step_pct)}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> DcaPlan | None:
        if not data:
            return None
        return cls(DcaMode(data["mode"]), int(data["tranches"]), Decimal(str(data["step_pct"])))


def tranche_room(budget: Decimal, spent: Decimal, still_to_buy: Sequence[Tranche]) -> Decimal:
    """Quote units a tranche may spend beyond its plan: the entry's approved size (`budget`) less what
    the position cost so far and the later tranches' plans at their triggers. A gap through several
    ADAPTIVE triggers buys more, but the position never grows past the size its entry was checked
    against (max_position_quote, the sizing cap)."""
    return budget - spent - sum((t.amount * t.trigger for t in still_to_buy), Decimal(0))


def phase_after(
    status_open: bool, sold: bool, pending: int, phase_before: PositionPhase | None
) -> PositionPhase:
    """A position's phase after a fill."""
    if not status_open:
        return PositionPhase.CLOSED
    if sold or phase_before is PositionPhase.REDUCING:
        return PositionPhase.REDUCING
    return PositionPhase.BUILDING if pending else PositionPhase.OPEN
