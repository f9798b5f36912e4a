"""Automatic exits: rules, levels, the vectorised exit book on ticks and candles, vs scalar references."""

from __future__ import annotations

import functools
import math
import operator
import random
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from tradewire.adapters.candles_parquet import read_candles
from tradewire.domain.candles import Candles
from tradewire.domain.exits import (
    BarExit,
    ExitBook,
    ExitLevels,
    ExitReason,
    ExitRules,
    Side,
    activation_price,
    best_after_bar,
    evaluate_bar,
    trailing_fraction,
    trailing_level,
)
from tradewire.domain.positions import CloseReason

D = Decimal
SYMBOL = "BTC/USDT"
HOUR_S = 3600.0


def _levels(
    side: Side = "long",
    entry: str = "100",
    *,
    sl: str | None = None,
    tp: str | None = None,
    trailing: str | None = None,
    activation: str | None = None,
    best: str | None = None,
    deadline_s: float | None = None,
) -> ExitLevels:
    return ExitLevels(
        side=side,
        stop_loss=None if sl is None else D(sl),
        take_profit=None if tp is None else D(tp),
        trailing_pct=None if trailing is None else D(trailing),
        trailing_activation_pct=None if activation is None else D(activation),
        best_price=D(best or entry),
        entry_price=D(entry),
        deadline_s=deadline_s,
    )


def _book(*positions: tuple[int, ExitLevels]) -> ExitBook:
    book = ExitBook()
    for position_id, levels in positions:
        book.upsert(position_id, SYMBOL, levels)
    return book


def _tick(book: ExitBook, price: float, now_s: float = 0.0) -> list[tuple[int, CloseReason, float, float]]:
    return [tuple(t) for t in book.evaluate({SYMBOL: price}, now_s)]  # type: ignore[misc]


def _up(x: float) -> float:
    return float(np.nextafter(x, math.inf))


def _down(x: float) -> float:
    return float(np.nextafter(x, -math.inf))


# --- ExitRules ------------------------------------------------------------------------------------


def test_exit_reason_is_the_position_close_reason() -> None:
    assert ExitReason is CloseReason
    assert {r.value for r in ExitReason} >= {"SL", "TP", "TRAILING", "TIMEOUT"}


def test_levels_for_a_long_put_the_stop_below_and_the_target_above_the_entry() -> None:
    rules = ExitRules(stop_loss_pct=D(2), take_profit_pct=D(4), trailing_pct=D("1.5"), max_hold_s=3600)

    levels = rules.levels("long", D(50000), opened_at_s=1000.0)

    assert levels.stop_loss == D(49000)
    assert levels.take_profit == D(52000)
    assert levels.trailing_pct == D("1.5")
    assert levels.best_price == levels.entry_price == D(50000)
    assert levels.deadline_s == 4600.0


def test_levels_for_a_short_are_the_mirror() -> None:
    rules = ExitRules(stop_loss_pct=D(2), take_profit_pct=D(4))

    levels = rules.levels("short", D(50000), opened_at_s=0.0)

    assert levels.stop_loss == D(51000)
    assert levels.take_profit == D(48000)
    assert levels.deadline_s is None


def test_explicit_prices_from_a_signal_win_over_percentages() -> None:
    rules = ExitRules(stop_loss_pct=D(2), take_profit_pct=D(4))

    levels = rules.levels("long", D(100), 0.0, sl_override=D("97.5"), tp_override=D(130))

    assert (levels.stop_loss, levels.take_profit) == (D("97.5"), D(130))


def test_levels_without_rules_have_no_exit_prices() -> None:
    levels = ExitRules().levels("long", D(100), 0.0)

    assert (levels.stop_loss, levels.take_profit, levels.trailing_pct, levels.deadline_s) == (
        None,
        None,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"stop_loss_pct": D(0)}, "stop_loss_pct must be a number greater than 0"),
        ({"stop_loss_pct": D(-1)}, "stop_loss_pct must be a number greater than 0"),
        ({"stop_loss_pct": D(100)}, "stop_loss_pct must be below 100"),
        ({"stop_loss_pct": D("NaN")}, "stop_loss_pct must be a number"),
        ({"take_profit_pct": D(0)}, "take_profit_pct must be a number greater than 0"),
        ({"trailing_pct": D(0)}, "trailing_pct must be a number greater than 0"),
        ({"trailing_pct": D(100)}, "trailing_pct must be below 100"),
        ({"trailing_pct": D(1), "trailing_activation_pct": D(0)}, "trailing_activation_pct must be"),
        ({"trailing_activation_pct": D(1)}, "trailing_activation_pct needs trailing_pct"),
        ({"max_hold_s": 0}, "max_hold_s must be greater than 0"),
    ],
)
def test_invalid_rules_are_refused_with_a_clear_message(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ExitRules(**kwargs)  # type: ignore[arg-type]


def test_a_stop_loss_just_below_100_percent_is_accepted() -> None:
    assert ExitRules(stop_loss_pct=D("99.99")).stop_loss_pct == D("99.99")


def test_rules_round_trip_through_json_with_decimals_as_strings() -> None:
    rules = ExitRules(
        stop_loss_pct=D("2.5"),
        take_profit_pct=D(4),
        trailing_pct=D("1.25"),
        trailing_activation_pct=D("0.5"),
        max_hold_s=172800,
    )

    data = rules.as_json()

    assert data == {
        "stop_loss_pct": "2.5",
        "take_profit_pct": "4",
        "trailing_pct": "1.25",
        "trailing_activation_pct": "0.5",
        "max_hold_s": 172800,
    }
    assert ExitRules.from_json(data) == rules


def test_omitted_json_keys_mean_the_exit_is_off() -> None:
    assert ExitRules.from_json(None) == ExitRules()
    assert ExitRules.from_json({}) == ExitRules()
    assert ExitRules.from_json({"stop_loss_pct": 3}) == ExitRules(stop_loss_pct=D(3))
    assert ExitRules(take_profit_pct=D(5)).as_json() == {"take_profit_pct": "5"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"stoploss_pct": "2"}, "unknown exit rule"),
        ({"stop_loss_pct": "two"}, "stop_loss_pct must be a number"),
        ({"max_hold_s": 1.5}, "max_hold_s must be a whole number"),
        ({"max_hold_s": True}, "max_hold_s must be a whole number"),
        ({"take_profit_pct": "-1"}, "take_profit_pct must be a number greater than 0"),
    ],
)
def test_bad_json_rules_are_refused(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ExitRules.from_json(data)


def test_levels_refuse_an_unknown_side_and_a_non_positive_entry() -> None:
    rules = ExitRules(stop_loss_pct=D(2))

    with pytest.raises(ValueError, match="side must be 'long' or 'short'"):
        rules.levels("buy", D(100), 0.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="entry_price must be positive"):
        rules.levels("long", D(0), 0.0)


# --- ExitBook.evaluate: every rule at its boundary --------------------------------------------------


def test_a_long_stop_triggers_exactly_at_the_stop_price_and_not_a_hair_above() -> None:
    above = _book((1, _levels(sl="98")))
    at = _book((1, _levels(sl="98")))

    assert _tick(above, _up(98.0)) == []
    assert _tick(at, 98.0) == [(1, CloseReason.SL, 98.0, 98.0)]


def test_a_long_take_profit_triggers_exactly_at_the_target_and_not_a_hair_below() -> None:
    below = _book((1, _levels(tp="104")))
    at = _book((1, _levels(tp="104")))

    assert _tick(below, _down(104.0)) == []
    assert _tick(at, 104.0) == [(1, CloseReason.TP, 104.0, 104.0)]


def test_a_short_stop_triggers_at_or_above_the_stop_and_its_target_at_or_below() -> None:
    short = _levels("short", sl="102", tp="96")
    book = _book((1, short), (2, short), (3, short), (4, short))

    assert _tick(book, _down(102.0)) == []
    assert [t[:3] for t in _tick(book, 102.0)] == [(i, CloseReason.SL, 102.0) for i in (1, 2, 3, 4)]
    tp_book = _book((1, short))
    assert _tick(tp_book, _up(96.0)) == []
    assert _tick(tp_book, 96.0) == [(1, CloseReason.TP, 96.0, 96.0)]


def test_the_trailing_stop_starts_exactly_when_the_best_price_reaches_the_activation_price() -> None:
    start = activation_price("long", 100.0, 2.0)  # entry 100, activation 2 %
    reached = _book((1, _levels(trailing="1", activation="2")))
    short_of_it = _book((1, _levels(trailing="1", activation="2")))

    _tick(reached, start)
    _tick(short_of_it, _down(start))

    assert _tick(short_of_it, 90.0) == []  # never activated: a fall does not trigger it
    level = start * (1.0 - trailing_fraction(1.0))
    assert _tick(reached, _up(level)) == []
    assert _tick(reached, level) == [(1, CloseReason.TRAILING, level, level)]


def test_a_short_trailing_stop_follows_the_lowest_price_and_triggers_above_it() -> None:
    book = _book((1, _levels("short", trailing="2")))

    _tick(book, 90.0)
    _tick(book, 91.0)  # against the short: the best (lowest) stays 90
    level = 90.0 * (1.0 + trailing_fraction(2.0))

    assert book.levels_of(1).best_price == D(90)
    assert _tick(book, _down(level)) == []
    assert _tick(book, level) == [(1, CloseReason.TRAILING, level, level)]


def test_the_best_price_only_ratchets_in_the_positions_favour() -> None:
    book = _book((1, _levels(trailing="1")))

    _tick(book, 110.0)
    _tick(book, 109.5)
    _tick(book, 109.0)
    level = 110.0 * (1.0 - trailing_fraction(1.0))

    assert book.levels_of(1).best_price == D(110)
    assert _tick(book, level) == [(1, CloseReason.TRAILING, level, level)]


def test_an_immediate_trailing_stop_is_active_from_the_entry() -> None:
    book = _book((1, _levels(trailing="1")))

    assert _tick(book, 99.0) == [(1, CloseReason.TRAILING, 99.0, 99.0)]


def test_the_time_limit_triggers_exactly_at_the_deadline_even_without_a_price() -> None:
    book = _book((1, _levels(deadline_s=1000.0)), (2, _levels(deadline_s=1000.0)))

    assert len(book.evaluate({}, _down(1000.0))) == 0
    triggers = list(book.evaluate({"ETH/USDT": 5.0}, 1000.0))

    assert [(t.position_id, t.reason) for t in triggers] == [
        (1, CloseReason.TIMEOUT),
        (2, CloseReason.TIMEOUT),
    ]
    assert all(math.isnan(t.trigger_level) and math.isnan(t.price) for t in triggers)


def test_a_timeout_with_a_price_reports_that_price_as_its_fill_reference() -> None:
    book = _book((1, _levels(sl="90", deadline_s=10.0)))

    (trigger,) = book.evaluate({SYMBOL: 100.0}, 10.0)

    assert trigger.reason is CloseReason.TIMEOUT
    assert math.isnan(trigger.trigger_level)
    assert trigger.price == 100.0


def test_the_stop_loss_wins_over_a_take_profit_and_a_timeout_hit_together() -> None:
    # A signal's explicit SL above its TP makes both true at 104.5.
    book = _book((1, _levels(sl="105", tp="104", deadline_s=0.0)))

    assert _tick(book, 104.5, now_s=5.0) == [(1, CloseReason.SL, 105.0, 104.5)]


def test_the_trailing_stop_wins_over_a_take_profit_and_take_profit_over_a_timeout() -> None:
    book = _book(
        (1, _levels(tp="105", trailing="1", best="110")),
        (2, _levels(tp="105", deadline_s=0.0)),
    )

    triggers = _tick(book, 106.0, now_s=1.0)

    assert triggers == [(1, CloseReason.TRAILING, 110.0 * 0.99, 106.0), (2, CloseReason.TP, 105.0, 106.0)]


def test_a_triggered_position_is_not_reported_again_until_unmarked() -> None:
    book = _book((1, _levels(sl="98")), (2, _levels(sl="98")))

    first = _tick(book, 97.0)
    again = _tick(book, 96.0)
    book.unmark_exiting([1])
    retried = _tick(book, 96.0)

    assert [t[0] for t in first] == [1, 2]
    assert again == []
    assert [t[0] for t in retried] == [1]
    assert len(book) == 2  # the caller removes positions once their exit order is stored


def test_positions_marked_exiting_are_skipped_until_removed_and_re_added() -> None:
    book = _book((1, _levels(sl="98")), (2, _levels(sl="98")))
    book.mark_exiting([2])

    assert [t[0] for t in _tick(book, 97.0)] == [1]
    assert book.is_exiting(2)
    assert book.remove(2) is True
    book.upsert(2, SYMBOL, _levels(sl="98"))
    assert [t[0] for t in _tick(book, 97.0)] == [2]


def test_mark_exiting_refuses_an_unknown_position_and_remove_is_idempotent() -> None:
    book = _book((1, _levels(sl="98")))

    with pytest.raises(KeyError):
        book.mark_exiting([7])
    book.unmark_exiting([7])  # ignored: it may have been removed meanwhile
    assert book.remove(1) is True
    assert book.remove(1) is False
    assert 1 not in book
    assert len(book.evaluate({SYMBOL: 1.0}, 1e12)) == 0


def test_positions_of_other_symbols_ignore_a_price_update() -> None:
    book = ExitBook()
    book.upsert(1, "ETH/USDT", _levels(sl="98"))
    book.upsert(2, SYMBOL, _levels(sl="98"))

    triggers = book.evaluate({SYMBOL: 90.0, "SOL/USDT": 1.0}, 0.0)

    assert list(triggers.position_ids) == [2]
    assert book.symbols() == ["BTC/USDT", "ETH/USDT"]


def test_best_price_changes_reports_moved_positions_once() -> None:
    book = _book((1, _levels()), (2, _levels("short")), (3, _levels()))

    book.evaluate({SYMBOL: 101.0}, 0.0)
    ids, best = book.best_price_changes()
    again_ids, _ = book.best_price_changes()

    assert (list(ids), list(best)) == ([1, 3], [101.0, 101.0])
    assert len(again_ids) == 0


def test_levels_of_keeps_the_given_decimals_and_tracks_the_best_price() -> None:
    levels = _levels(sl="97.123456789", tp="110", trailing="3")
    book = _book((1, levels))

    assert book.levels_of(1) is levels
    book.evaluate({SYMBOL: 101.25}, 0.0)

    assert book.levels_of(1) == replace(levels, best_price=D("101.25"))


def test_symbols_lists_only_symbols_still_monitored() -> None:
    book = ExitBook()
    book.upsert(1, "ETH/USDT", _levels())
    book.upsert(2, SYMBOL, _levels())
    book.upsert(1, SYMBOL, _levels())  # moved to another symbol

    assert book.symbols() == [SYMBOL]
    book.remove(1)
    book.remove(2)
    assert book.symbols() == []


# --- Property test: random operations against a dict-of-dataclasses reference -----------------------


@dataclass
class RefPosition:
    symbol: str
    levels: ExitLevels
    best: float
    exiting: bool = False
    seen: list[str] = field(default_factory=list)
    given: tuple[object, ...] = ()  # every field of `levels` but best_price

    def __post_init__(self) -> None:
        self.given = _all_but_best(self.levels)


def _opt(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def tick_reference(ref: RefPosition, price: float | None, now_s: float) -> tuple[CloseReason, float] | None:
    """The scalar tick rule for one position, written plainly with branches."""
    levels = ref.levels
    long = levels.side == "long"
    sl, tp, trail = _opt(levels.stop_loss), _opt(levels.take_profit), _opt(levels.trailing_pct)
    entry = float(levels.entry_price)
    if price is not None:
        ref.best = max(ref.best, price) if long else min(ref.best, price)
        if sl is not None and (price <= sl if long else price >= sl):
            return CloseReason.SL, sl
        if trail is not None:
            start = activation_price(levels.side, entry, _opt(levels.trailing_activation_pct))
            if long and ref.best >= start:
                level = trailing_level("long", ref.best, trail)
                if price <= level:
                    return CloseReason.TRAILING, level
            if not long and ref.best <= start:
                level = trailing_level("short", ref.best, trail)
                if price >= level:
                    return CloseReason.TRAILING, level
        if tp is not None and (price >= tp if long else price <= tp):
            return CloseReason.TP, tp
    if levels.deadline_s is not None and now_s >= levels.deadline_s:
        return CloseReason.TIMEOUT, math.nan
    return None


def _random_levels(rng: random.Random) -> ExitLevels:
    side: Side = rng.choice(["long", "short"])
    sign = 1 if side == "long" else -1
    entry = D(rng.choice(["50", "100", "250.5"]))
    return ExitLevels(
        side=side,
        stop_loss=rng.choice([None, entry * (1 - sign * D(rng.randint(1, 5)) / 100)]),
        take_profit=rng.choice([None, entry * (1 + sign * D(rng.randint(1, 8)) / 100)]),
        trailing_pct=rng.choice([None, D(rng.randint(1, 4))]),
        trailing_activation_pct=None,
        best_price=entry,
        entry_price=entry,
        deadline_s=rng.choice([None, float(rng.randint(1, 60))]),
    )


_ALL_BUT_BEST = tuple(item.name for item in fields(ExitLevels) if item.name != "best_price")
_all_but_best = operator.attrgetter(*_ALL_BUT_BEST)  # a tuple of every field but best_price


def _assert_same_as_reference(book: ExitBook, model: dict[int, RefPosition]) -> None:
    """The book's whole state against the model's, position by position: every field of the levels
    but the best price as given, the best price as tracked, and the pending exit. Run after every
    operation (~120,000 positions compared per seed), so it gathers both sides and asserts once."""
    assert len(book) == len(model)
    assert [pid for pid in model if pid not in book] == []
    got, expected = {}, {}
    for position_id, ref in model.items():
        levels = book.levels_of(position_id)
        # The levels given come back as the same object while the best price is theirs.
        given = ref.given if levels is ref.levels else _all_but_best(levels)
        got[position_id] = (given, float(levels.best_price), book.is_exiting(position_id))
        expected[position_id] = (ref.given, ref.best, ref.exiting)
    assert got == expected
    assert book.symbols() == sorted({ref.symbol for ref in model.values()})


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_upserts_removes_and_evaluations_match_a_reference_model(seed: int) -> None:
    rng = random.Random(seed)
    symbols = ["A/USDT", "B/USDT", "C/USDT", "D/USDT"]
    book = ExitBook()
    model: dict[int, RefPosition] = {}
    now = 0.0
    for _ in range(1500):
        op = rng.random()
        position_id = rng.randint(0, 150)
        if op < 0.45:
            levels = _random_levels(rng)
            symbol = rng.choice(symbols)
            book.upsert(position_id, symbol, levels)
            exiting = model[position_id].exiting if position_id in model else False
            model[position_id] = RefPosition(symbol, levels, float(levels.best_price), exiting)
        elif op < 0.75:
            assert book.remove(position_id) == (model.pop(position_id, None) is not None)
        elif op < 0.8 and position_id in model:
            book.mark_exiting([position_id])
            model[position_id].exiting = True
        elif op < 0.85:
            book.unmark_exiting([position_id])
            if position_id in model:
                model[position_id].exiting = False
        else:
            now += 1.0
            prices = {s: rng.choice([45.0, 50.0, 98.0, 100.0, 104.0, 250.5, 260.0]) for s in symbols[:3]}
            expected = {}
            for pid, ref in model.items():
                if ref.exiting:
                    continue
                hit = tick_reference(ref, prices.get(ref.symbol), now)
                if hit is not None:
                    expected[pid] = (hit[0], hit[1], prices.get(ref.symbol, math.nan))
                    ref.exiting = True
            got = {t.position_id: (t.reason, t.trigger_level, t.price) for t in book.evaluate(prices, now)}
            assert got.keys() == expected.keys()
            for pid, (reason, level, price) in expected.items():
                assert got[pid][0] is reason
                np.testing.assert_equal(got[pid][1:], (level, price))
        _assert_same_as_reference(book, model)


def test_the_book_grows_past_its_initial_capacity_and_shrinks_back() -> None:
    book = ExitBook()
    for position_id in range(1000):
        book.upsert(position_id, f"S{position_id % 7}", _levels(sl=str(90 + position_id % 5)))

    for position_id in range(0, 1000, 2):
        book.remove(position_id)

    assert len(book) == 500
    assert all(book.levels_of(i).stop_loss == D(90 + i % 5) for i in range(1, 1000, 2))


# --- evaluate_bar -----------------------------------------------------------------------------------


Bar = tuple[float, float, float, float]  # open, high, low, close
SL, TP, TRAILING, TIMEOUT = CloseReason.SL, CloseReason.TP, CloseReason.TRAILING, CloseReason.TIMEOUT


@pytest.mark.parametrize(
    ("side", "bar", "levels", "expected"),
    [
        # A gap down through a long stop fills at the open, not at the stop.
        ("long", (95.0, 96.0, 94.0, 95.5), {"stop_loss": 98.0}, BarExit(SL, 95.0, 100.0)),
        # A gap up through a short stop fills at the open.
        ("short", (105.0, 106.0, 104.0, 105.0), {"stop_loss": 102.0}, BarExit(SL, 105.0, 100.0)),
        # A gap through the target fills at the open.
        ("long", (106.0, 107.0, 105.0, 106.0), {"take_profit": 104.0}, BarExit(TP, 106.0, 107.0)),
        # A candle touching both stop and target is taken as a stop.
        (
            "long",
            (100.0, 105.0, 97.0, 101.0),
            {"stop_loss": 98.0, "take_profit": 104.0},
            BarExit(SL, 98.0, 105.0),
        ),
        # A stop or a target touched intrabar fills at its level.
        ("short", (100.0, 102.5, 99.0, 100.0), {"stop_loss": 102.0}, BarExit(SL, 102.0, 99.0)),
        ("short", (100.0, 101.0, 95.0, 96.0), {"take_profit": 96.0}, BarExit(TP, 96.0, 95.0)),
        # The trailing level comes from the best price before the candle: with the candle's high (110)
        # the level would be 108.9; before it, the best is 100: level 99.
        ("long", (100.5, 110.0, 99.5, 109.0), {"trailing_pct": 1.0}, None),
        # With stop and trailing both touched, the one nearer the open fills; at the same level, the stop.
        (
            "long",
            (100.0, 100.0, 90.0, 95.0),
            {"stop_loss": 95.0, "trailing_pct": 1.0},
            BarExit(TRAILING, 99.0, 100.0),
        ),
        (
            "long",
            (100.0, 100.0, 90.0, 95.0),
            {"stop_loss": 99.0, "trailing_pct": 1.0},
            BarExit(SL, 99.0, 100.0),
        ),
        # A gap through the trailing level fills at the open.
        (
            "short",
            (106.0, 107.0, 105.0, 106.0),
            {"entry_price": 110.0, "trailing_pct": 5.0},
            BarExit(TRAILING, 106.0, 100.0),
        ),
        # The time limit fills at the close, once the candle closes at the deadline.
        ("long", (100.0, 101.0, 99.0, 100.5), {"deadline_s": 50.0, "now_s": 49.0}, None),
        (
            "long",
            (100.0, 101.0, 99.0, 100.5),
            {"deadline_s": 50.0, "now_s": 50.0},
            BarExit(TIMEOUT, 100.5, 101.0),
        ),
    ],
)
def test_evaluate_bar(side: Side, bar: Bar, levels: dict[str, float], expected: BarExit | None) -> None:
    result = evaluate_bar(side, *bar, **{"entry_price": 100.0, "best_price": 100.0, **levels})

    assert result == expected


def test_the_best_price_after_a_bar_is_its_high_for_a_long() -> None:
    assert best_after_bar("long", 100.0, 110.0, 99.5) == 110.0


def _bar_reference(levels: ExitLevels, best: float, bar: Bar, now_s: float) -> BarExit | None:
    return evaluate_bar(
        levels.side,
        *bar,
        entry_price=float(levels.entry_price),
        best_price=best,
        stop_loss=_opt(levels.stop_loss),
        take_profit=_opt(levels.take_profit),
        trailing_pct=_opt(levels.trailing_pct),
        trailing_activation_pct=_opt(levels.trailing_activation_pct),
        deadline_s=levels.deadline_s,
        now_s=now_s,
    )


def test_evaluate_bars_agrees_with_evaluate_bar_on_random_candles_full_of_ties_and_gaps() -> None:
    rng = random.Random(7)
    grid = [94.0, 96.0, 98.0, 99.0, 100.0, 101.0, 102.0, 104.0, 106.0]
    book = ExitBook()
    cases: dict[int, tuple[ExitLevels, Bar]] = {}
    for position_id in range(3000):
        side: Side = rng.choice(["long", "short"])
        symbol = f"S{position_id}"
        prices = sorted(rng.choice(grid) for _ in range(4))
        low, high = prices[0], prices[3]
        bar = (prices[rng.choice([1, 2])], high, low, prices[rng.choice([1, 2])])
        levels = ExitLevels(
            side=side,
            stop_loss=rng.choice([None, D(str(rng.choice(grid)))]),
            take_profit=rng.choice([None, D(str(rng.choice(grid)))]),
            trailing_pct=rng.choice([None, D(1), D(2), D(5)]),
            trailing_activation_pct=None,
            best_price=D(str(rng.choice(grid))),
            entry_price=D(100),
            deadline_s=rng.choice([None, 5.0, 10.0]),
        )
        if levels.trailing_pct is not None and rng.random() < 0.3:
            # A stop exactly at the trailing level: the tie must go to SL in both implementations.
            best, fraction = float(levels.best_price), trailing_fraction(float(levels.trailing_pct))
            tie = best * (1.0 - fraction) if side == "long" else best * (1.0 + fraction)
            levels = replace(levels, stop_loss=D(repr(tie)))
        elif levels.trailing_pct is not None:
            levels = replace(levels, trailing_activation_pct=rng.choice([None, D(1), D(3)]))
        book.upsert(position_id, symbol, levels)
        cases[position_id] = (levels, bar)

    triggers = book.evaluate_bars({f"S{i}": bar for i, (_, bar) in cases.items()}, now_s=5.0)

    got = {t.position_id: (t.reason, t.price) for t in triggers}
    expected = {}
    for position_id, (levels, bar) in cases.items():
        result = _bar_reference(levels, float(levels.best_price), bar, 5.0)
        if result is not None:
            expected[position_id] = (result.reason, result.fill_price)
        new_best = best_after_bar(levels.side, float(levels.best_price), bar[1], bar[2])
        assert float(book.levels_of(position_id).best_price) == new_best
    assert got == expected
    assert {reason for reason, _ in got.values()} == set(ExitReason) - {
        CloseReason.SIGNAL,
        CloseReason.RISK,
        CloseReason.MANUAL,
        CloseReason.OUTSIDE,
    }


# --- Real candles ------------------------------------------------------------------------------------

STOPS_AND_TARGETS = {CloseReason.SL, CloseReason.TP, CloseReason.TRAILING}


@dataclass(frozen=True)
class RealSeries:
    """Hourly candles of a real market, and the reasons the positions opened on them end with (evaluated
    on whole candles)."""

    source: str
    name: str
    symbol: str
    reasons: frozenset[CloseReason]

    def candles(self, data_dir: Path) -> Candles:
        # The first 4,000 hours (five and a half months) already end positions for every reason; the
        # whole 17,583-candle Bitfinex file would take four times as long and prove nothing more.
        return read_candles(data_dir / "ohlcv" / self.source / self.name, self.symbol, "1h").rows(0, 4000)


REAL_SERIES = [
    # 500 volatile candles of 2018: every position ends on a price level within 48 h.
    RealSeries("binance", "BTC_USDT-1h.parquet", "BTC/USDT", frozenset(STOPS_AND_TARGETS)),
    RealSeries(
        "bitfinex", "BTC_USD-1h.parquet", "BTC/USD", frozenset(STOPS_AND_TARGETS | {CloseReason.TIMEOUT})
    ),
]
REAL_RULES = ExitRules(
    stop_loss_pct=D(2),
    take_profit_pct=D(4),
    trailing_pct=D("1.5"),
    trailing_activation_pct=D(1),  # without it the 1.5 % trail would always sit above the 2 % stop
    max_hold_s=48 * 3600,
)
EVERY = 7
Exits = dict[int, tuple[int, CloseReason, float]]  # position -> (candle index, reason, fill price)


@dataclass(frozen=True)
class Opened:
    index: int
    levels: ExitLevels


def _close_s(candles: Candles, j: int) -> float:
    return float(candles.ts[j]) / 1000.0 + HOUR_S


def _bar(candles: Candles, j: int) -> Bar:
    return (float(candles.open[j]), float(candles.high[j]), float(candles.low[j]), float(candles.close[j]))


def _opened(candles: Candles) -> dict[int, Opened]:
    """A position at the close of every 7th candle, alternately long and short."""
    positions = {}
    for j in range(0, len(candles), EVERY):
        side: Side = "long" if (j // EVERY) % 2 == 0 else "short"
        entry = D(repr(float(candles.close[j])))
        positions[j] = Opened(j, REAL_RULES.levels(side, entry, _close_s(candles, j)))
    return positions


def _book_exits(candles: Candles, opened: dict[int, Opened], *, ticks: bool) -> Exits:
    book = ExitBook()
    exits = {}
    for j in range(len(candles)):
        now = _close_s(candles, j)
        if ticks:
            triggers = book.evaluate({candles.symbol: float(candles.close[j])}, now)
        else:
            triggers = book.evaluate_bars({candles.symbol: _bar(candles, j)}, now)
        for trigger in triggers:
            exits[trigger.position_id] = (j, trigger.reason, trigger.price)
            book.remove(trigger.position_id)
        if j in opened:
            book.upsert(j, candles.symbol, opened[j].levels)
    return exits


@functools.cache
def _real_run(series: RealSeries, data_dir: Path, ticks: bool) -> tuple[Candles, dict[int, Opened], Exits]:
    """A real series, its positions and where the book ends them, worked out once for the tests that
    read them (the book's run over 4,000 candles takes ~0.15 s; nothing here is changed by a test)."""
    candles = series.candles(data_dir)
    opened = _opened(candles)
    return candles, opened, _book_exits(candles, opened, ticks=ticks)


def _loop_bar_exits(candles: Candles, opened: dict[int, Opened]) -> Exits:
    exits = {}
    for position_id, position in opened.items():
        levels = position.levels
        best = float(levels.entry_price)
        for j in range(position.index + 1, len(candles)):
            bar = _bar(candles, j)
            result = _bar_reference(levels, best, bar, _close_s(candles, j))
            if result is not None:
                exits[position_id] = (j, result.reason, result.fill_price)
                break
            best = best_after_bar(levels.side, best, bar[1], bar[2])
    return exits


def _loop_tick_exits(candles: Candles, opened: dict[int, Opened]) -> Exits:
    exits = {}
    for position_id, position in opened.items():
        ref = RefPosition(candles.symbol, position.levels, float(position.levels.best_price))
        for j in range(position.index + 1, len(candles)):
            price = float(candles.close[j])
            hit = tick_reference(ref, price, _close_s(candles, j))
            if hit is not None:
                exits[position_id] = (j, hit[0], price)
                break
    return exits


@pytest.mark.parametrize("ticks", [False, True], ids=["candles", "closes as ticks"])
@pytest.mark.parametrize("series", REAL_SERIES, ids=lambda series: series.source)
def test_the_book_on_real_candles_exits_where_a_per_position_scalar_loop_does(
    data_dir: Path, series: RealSeries, ticks: bool
) -> None:
    candles, opened, book = _real_run(series, data_dir, ticks)
    loop = (_loop_tick_exits if ticks else _loop_bar_exits)(candles, opened)

    assert book == loop
    assert len(book) >= len(opened) - 10  # nearly all positions end within 48 h
    # Closes step over intrabar extremes, so positions live longer than on candles: timeouts happen too.
    assert {reason for _, reason, _ in book.values()} == (
        STOPS_AND_TARGETS | {CloseReason.TIMEOUT} if ticks else series.reasons
    )


@pytest.mark.parametrize("series", REAL_SERIES, ids=lambda series: series.source)
def test_exits_on_real_candles_are_confirmed_by_the_raw_prices(data_dir: Path, series: RealSeries) -> None:
    candles, opened, exits = _real_run(series, data_dir, False)
    o, h, lo, c = candles.open, candles.high, candles.low, candles.close
    checked: dict[CloseReason, int] = {}

    for position_id, (j, reason, fill) in sorted(exits.items()):
        if checked.get(reason, 0) >= 5:
            continue
        checked[reason] = checked.get(reason, 0) + 1
        levels = opened[position_id].levels
        i = opened[position_id].index
        sl, tp = float(levels.stop_loss or 0), float(levels.take_profit or 0)
        long = levels.side == "long"
        adverse, favourable = (lo, h) if long else (h, lo)
        before = slice(i + 1, j)
        # No candle between entry and exit reached the stop or the target.
        if long:
            assert (lo[before] > sl).all() and (h[before] < tp).all()
        else:
            assert (h[before] < sl).all() and (lo[before] > tp).all()
        gap = fill == o[j]
        if reason is CloseReason.SL:
            assert (adverse[j] <= sl) if long else (adverse[j] >= sl)
            assert fill == (o[j] if gap else sl)
        elif reason is CloseReason.TP:
            assert (favourable[j] >= tp) if long else (favourable[j] <= tp)
            assert fill == (o[j] if gap else tp)
        elif reason is CloseReason.TRAILING:
            entry = float(levels.entry_price)
            best = max(entry, *h[before]) if long else min(entry, *lo[before])
            level = best * (1 - 0.015) if long else best * (1 + 0.015)
            assert (best >= entry * 1.01) if long else (best <= entry * 0.99)  # activated
            assert fill == (o[j] if gap else pytest.approx(level, rel=1e-12))
        else:
            assert _close_s(candles, j) >= levels.deadline_s  # type: ignore[operator]
            assert _close_s(candles, j - 1) < levels.deadline_s  # type: ignore[operator]
            assert fill == c[j]
    assert set(checked) == series.reasons
