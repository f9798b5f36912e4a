"""TradingView webhook parsing: the shared sample bodies, the JSON and text families, and every rejection."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tradewire.domain.alerts.tradingview import MAX_BODY_BYTES, AlertError, ParsedAlert, parse_alert
from tradewire.domain.orders import OrderType
from tradewire.domain.signals import MarketPosition, SignalAction

JSON = "application/json"
TEXT = "text/plain"


# --- helpers -----------------------------------------------------------------------------------


def _data_dir() -> Path:
    override = os.environ.get("TRADEWIRE_DATA_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


@cache
def _sample_cases() -> dict[str, dict[str, Any]] | None:
    path = _data_dir() / "webhooks" / "tradingview_cases.json"
    if not path.is_file():
        return None
    document = json.loads(path.read_text(encoding="utf-8"))
    return {case["id"]: case for case in document["cases"]}


def _require_samples() -> dict[str, dict[str, Any]]:
    cases = _sample_cases()
    if cases is None:
        reason = f"TradingView sample cases not found under {_data_dir()}"
        if os.environ.get("TRADEWIRE_REQUIRE_SERVICES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return cases


def _parse_sample(case_id: str) -> ParsedAlert:
    case = _require_samples()[case_id]
    return parse_alert(case["body"].encode("utf-8"), case["content_type"])


def _parse_json(payload: dict[str, Any], content_type: str | None = JSON) -> ParsedAlert:
    return parse_alert(json.dumps(payload).encode("utf-8"), content_type)


def _parse_text(text: str, content_type: str | None = TEXT) -> ParsedAlert:
    return parse_alert(text.encode("utf-8"), content_type)


def _order(**extra: Any) -> dict[str, Any]:
    """A minimal valid flat JSON alert, with overrides."""
    return {"action": "buy", "ticker": "BTCUSDT", **extra}


# --- the shared sample bodies ------------------------------------------------------------------


@dataclass(frozen=True)
class Accepted:
    action: SignalAction
    ticker: str
    contracts: Decimal | None
    price: Decimal | None


@dataclass(frozen=True)
class Rejected:
    message_part: str


SAMPLE_EXPECTATIONS: dict[str, Accepted | Rejected] = {
    "tv01_strategy_full_buy": Accepted(SignalAction.BUY, "DOGEUSDT", Decimal(10000), Decimal("0.0027451")),
    "tv02_strategy_full_close_long": Accepted(
        SignalAction.EXIT, "BTCUSDT", Decimal("0.0152"), Decimal("96388.12")
    ),
    "tv04_flat_quoted_strings": Accepted(SignalAction.BUY, "SOLUSDT", Decimal("0.85"), Decimal("184.37")),
    "tv06_alert_message_from_pine": Accepted(SignalAction.BUY, "ETHUSDT", None, Decimal("3456.78")),
    "tv07_plain_text": Accepted(SignalAction.BUY, "BTCUSDT", Decimal("0.01"), Decimal("96388.12")),
    "tv09_broken_json_empty_number": Rejected("JSON"),
    "tv10_wrong_passphrase": Accepted(SignalAction.BUY, "BTCUSDT", Decimal("0.001"), Decimal("96388.12")),
    "tv12_duplicate_delivery": Accepted(SignalAction.BUY, "BTCUSDT", Decimal("0.001"), Decimal("96388.12")),
    # The minimum-notional check belongs to order sizing; the parser accepts the signal.
    "tv14_below_min_notional": Accepted(SignalAction.BUY, "BTCUSDT", Decimal("0.00005"), Decimal("96388.12")),
    "tv15_amount_needs_truncation": Accepted(
        SignalAction.BUY, "BTCUSDT", Decimal("0.001234567"), Decimal("96388.123")
    ),
}


@pytest.mark.parametrize("case_id", sorted(SAMPLE_EXPECTATIONS))
def test_sample_body_is_handled_as_expected(case_id: str) -> None:
    # Arrange
    expected = SAMPLE_EXPECTATIONS[case_id]
    case = _require_samples()[case_id]
    body = case["body"].encode("utf-8")

    # Act / Assert
    if isinstance(expected, Rejected):
        with pytest.raises(AlertError, match=expected.message_part):
            parse_alert(body, case["content_type"])
        return
    intent = parse_alert(body, case["content_type"]).intent
    assert (intent.action, intent.ticker, intent.contracts, intent.price) == (
        expected.action,
        expected.ticker,
        expected.contracts,
        expected.price,
    )


def test_every_sample_case_has_an_expectation() -> None:
    # Arrange
    cases = _require_samples()

    # Act
    unexpected = set(cases) - set(SAMPLE_EXPECTATIONS)

    # Assert
    assert not unexpected, f"add expectations for {sorted(unexpected)}"


def test_full_strategy_sample_carries_positions_exchange_order_id_and_time() -> None:
    # Arrange / Act
    alert = _parse_sample("tv01_strategy_full_buy")

    # Assert
    intent = alert.intent
    assert intent.contracts == Decimal(10000)
    assert intent.price == Decimal("0.0027451")
    assert intent.exchange == "BINANCE"
    assert intent.order_id == "doge door"
    assert intent.market_position is MarketPosition.LONG
    assert intent.prev_market_position is MarketPosition.FLAT
    assert intent.market_position_size == Decimal(10000)
    assert intent.prev_market_position_size == Decimal(0)
    assert intent.signal_time == datetime(2020, 9, 6, 1, 44, 17, tzinfo=UTC)
    assert alert.passphrase == "abcdefgh"
    assert alert.has_timestamp is True


def test_sell_that_leaves_the_strategy_flat_is_an_exit_of_the_previous_long() -> None:
    # Arrange / Act
    intent = _parse_sample("tv02_strategy_full_close_long").intent

    # Assert
    assert intent.action is SignalAction.EXIT
    assert intent.market_position is MarketPosition.FLAT
    assert intent.prev_market_position is MarketPosition.LONG
    assert intent.prev_market_position_size == Decimal("0.0152")


def test_plain_text_sample_parses_as_buy_with_size_and_price() -> None:
    # Arrange / Act
    alert = _parse_sample("tv07_plain_text")

    # Assert
    assert alert.intent.action is SignalAction.BUY
    assert alert.intent.ticker == "BTCUSDT"
    assert alert.intent.contracts == Decimal("0.01")
    assert alert.intent.price == Decimal("96388.12")
    assert alert.passphrase is None


def test_broken_json_sample_is_rejected_with_line_and_column() -> None:
    # Arrange
    case = _require_samples()["tv09_broken_json_empty_number"]

    # Act
    with pytest.raises(AlertError) as raised:
        parse_alert(case["body"].encode("utf-8"), case["content_type"])

    # Assert
    assert str(raised.value).startswith("body is not valid JSON: ")
    assert "line 1 column" in str(raised.value)


def test_wrong_passphrase_sample_still_parses_because_the_check_happens_elsewhere() -> None:
    # Arrange / Act
    alert = _parse_sample("tv10_wrong_passphrase")

    # Assert
    assert alert.passphrase == "WRONG"
    assert alert.intent.action is SignalAction.BUY


def test_repeated_delivery_sample_gives_equal_dedup_material_with_a_timestamp() -> None:
    # Arrange
    case = _require_samples()["tv12_duplicate_delivery"]
    deliveries = max(int(case.get("repeat", 2)), 2)

    # Act
    alerts = [parse_alert(case["body"].encode("utf-8"), case["content_type"]) for _ in range(deliveries)]

    # Assert
    assert len({alert.dedup_material for alert in alerts}) == 1
    assert all(alert.has_timestamp for alert in alerts)
    assert alerts[0].intent.order_id == "Long"


def test_long_fraction_contracts_are_kept_exactly() -> None:
    # Arrange / Act
    intent = _parse_sample("tv15_amount_needs_truncation").intent

    # Assert
    assert intent.contracts == Decimal("0.001234567")
    assert str(intent.contracts) == "0.001234567"


@pytest.mark.parametrize(
    "case_id", sorted(key for key, value in SAMPLE_EXPECTATIONS.items() if isinstance(value, Accepted))
)
def test_sample_dedup_material_never_contains_the_passphrase(case_id: str) -> None:
    # Arrange / Act
    alert = _parse_sample(case_id)

    # Assert
    assert "passphrase" not in alert.dedup_material
    if alert.passphrase:
        assert alert.passphrase not in alert.dedup_material


# --- flat JSON ---------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["action", "side", "signal", "order", "order_action"])
def test_action_is_read_from_any_of_its_keys(key: str) -> None:
    # Arrange
    payload = {key: "sell", "ticker": "BTCUSDT"}

    # Act
    intent = _parse_json(payload).intent

    # Assert
    assert intent.action is SignalAction.SELL


@pytest.mark.parametrize("key", ["ticker", "symbol", "pair"])
def test_ticker_is_read_from_any_of_its_keys(key: str) -> None:
    # Arrange
    payload = {"action": "buy", key: "ETHUSDT"}

    # Act
    intent = _parse_json(payload).intent

    # Assert
    assert intent.ticker == "ETHUSDT"


@pytest.mark.parametrize("key", ["contracts", "quantity", "qty", "amount", "size", "order_contracts"])
def test_contracts_are_read_from_any_of_their_keys(key: str) -> None:
    # Arrange
    payload = _order(**{key: 0.25})

    # Act
    intent = _parse_json(payload).intent

    # Assert
    assert intent.contracts == Decimal("0.25")


@pytest.mark.parametrize("key", ["price", "order_price", "close"])
def test_price_is_read_from_any_of_its_keys(key: str) -> None:
    # Arrange
    payload = _order(**{key: 96000.5})

    # Act
    intent = _parse_json(payload).intent

    # Assert
    assert intent.price == Decimal("96000.5")


def test_quoted_and_unquoted_numbers_read_the_same() -> None:
    # Arrange
    quoted = _order(contracts="0.85", price="184.37")
    unquoted = _order(contracts=0.85, price=184.37)

    # Act
    from_quoted = _parse_json(quoted).intent
    from_unquoted = _parse_json(unquoted).intent

    # Assert
    assert (from_quoted.contracts, from_quoted.price) == (Decimal("0.85"), Decimal("184.37"))
    assert (from_unquoted.contracts, from_unquoted.price) == (Decimal("0.85"), Decimal("184.37"))


def test_json_number_digits_are_kept_beyond_float_precision() -> None:
    # Arrange
    body = b'{"action":"buy","ticker":"BTCUSDT","contracts":0.123456789012345678}'

    # Act
    intent = parse_alert(body, JSON).intent

    # Assert
    assert intent.contracts == Decimal("0.123456789012345678")


def test_json_numbers_are_rounded_to_the_18_decimals_storage_keeps() -> None:
    # Arrange
    body = b'{"action":"buy","ticker":"BTCUSDT","contracts":0.12345678901234567890}'

    # Act
    intent = parse_alert(body, JSON).intent

    # Assert: what NUMERIC(38, 18) would keep, on every database alike
    assert intent.contracts == Decimal("0.123456789012345679")


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("buy", SignalAction.BUY),
        ("BUY", SignalAction.BUY),
        ("long", SignalAction.BUY),
        ("enter_long", SignalAction.BUY),
        ("entry_long", SignalAction.BUY),
        ("Enter-Long", SignalAction.BUY),
        ("sell", SignalAction.SELL),
        ("Short", SignalAction.SELL),
        ("enter_short", SignalAction.SELL),
        ("close", SignalAction.EXIT),
        ("exit", SignalAction.EXIT),
        ("flat", SignalAction.EXIT),
        ("close_all", SignalAction.EXIT),
        ("exit_all", SignalAction.EXIT),
        ("flatten", SignalAction.EXIT),
        ("close_long", SignalAction.EXIT),
        ("exit_long", SignalAction.EXIT),
        ("close_short", SignalAction.EXIT),
        ("exit_short", SignalAction.EXIT),
        ("cover", SignalAction.EXIT),
        ("Close Long", SignalAction.EXIT),
        ("  EXIT  ", SignalAction.EXIT),
    ],
)
def test_action_words_map_case_insensitively(word: str, expected: SignalAction) -> None:
    # Arrange
    payload = _order(action=word)

    # Act
    intent = _parse_json(payload).intent

    # Assert
    assert intent.action is expected


def test_unknown_action_is_rejected_with_the_expected_choices() -> None:
    # Arrange
    payload = _order(action="xyz")

    # Act / Assert
    with pytest.raises(AlertError) as raised:
        _parse_json(payload)
    assert str(raised.value) == "unknown action 'xyz'; expected buy, sell or close/exit"


@pytest.mark.parametrize("action", ["buy", "sell"])
def test_buy_or_sell_with_flat_market_position_is_an_exit_that_keeps_both_positions(action: str) -> None:
    # Arrange
    payload = _order(action=action, market_position="flat", prev_market_position="short")

    # Act
    intent = _parse_json(payload).intent

    # Assert
    assert intent.action is SignalAction.EXIT
    assert intent.market_position is MarketPosition.FLAT
    assert intent.prev_market_position is MarketPosition.SHORT


def test_market_positions_and_sizes_are_read_case_insensitively() -> None:
    # Arrange
    payload = _order(
        action="sell",
        market_position="LONG",
        prev_market_position="Long",
        market_position_size="0.5",
        prev_market_position_size=1,
    )

    # Act
    intent = _parse_json(payload).intent

    # Assert
    assert intent.action is SignalAction.SELL
    assert intent.market_position is MarketPosition.LONG
    assert intent.prev_market_position is MarketPosition.LONG
    assert intent.market_position_size == Decimal("0.5")
    assert intent.prev_market_position_size == Decimal(1)
    assert intent.exit_fraction == Decimal("0.5")


@pytest.mark.parametrize("key", ["market_position", "prev_market_position"])
def test_unknown_market_position_is_rejected_naming_the_field(key: str) -> None:
    # Arrange
    payload = _order(**{key: "sideways"})

    # Act / Assert
    with pytest.raises(AlertError, match=f"'{key}'.*long, short or flat"):
        _parse_json(payload)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        pytest.param(
            _order(market_position_size=-1),
            "'market_position_size' must not be negative",
            id="negative_market_position_size_is_rejected",
        ),
        pytest.param(_order(price=-5), "'price' must be positive", id="negative_price_is_rejected"),
        pytest.param(
            _order(contracts="{{strategy.order.contracts}}"),
            "'contracts' holds an unrendered placeholder",
            id="unrendered_placeholder_is_rejected_naming_the_field",
        ),
        pytest.param(
            {"action": "buy", "contracts": 1}, r"^missing ticker", id="missing_ticker_is_rejected_saying_so"
        ),
        pytest.param(
            {"ticker": "BTCUSDT", "contracts": 1},
            r"^missing action",
            id="missing_action_is_rejected_saying_so",
        ),
        pytest.param(
            _order(ticker={"name": "BTCUSDT"}),
            "'ticker' must be text",
            id="ticker_that_is_not_text_is_rejected",
        ),
        pytest.param(_order(time=""), "field 'time' is empty", id="empty_time_is_rejected_naming_the_field"),
        pytest.param(
            _order(passphrase={"value": "x"}),
            "'passphrase' must be text",
            id="passphrase_that_is_an_object_is_rejected",
        ),
    ],
)
def test_a_bad_field_is_rejected_saying_which(payload: dict[str, Any], message: str) -> None:
    # Act / Assert
    with pytest.raises(AlertError, match=message):
        _parse_json(payload)


def test_keys_are_matched_case_insensitively() -> None:
    # Arrange
    payload = {"ACTION": "buy", "Ticker": "BTCUSDT", "Contracts": 1, "Passphrase": "pw"}

    # Act
    alert = _parse_json(payload)

    # Assert
    assert alert.intent.ticker == "BTCUSDT"
    assert alert.intent.contracts == Decimal(1)
    assert alert.passphrase == "pw"


def test_ticker_without_prefix_is_kept_and_exchange_is_set_from_its_own_field() -> None:
    # Arrange
    payload = _order(ticker=" BTCUSDT.P ", exchange="BINANCE")

    # Act
    intent = _parse_json(payload).intent

    # Assert
    assert intent.ticker == "BTCUSDT.P"
    assert intent.exchange == "BINANCE"


def test_prefixed_ticker_is_kept_raw_and_not_resolved() -> None:
    # Arrange
    payload = _order(ticker="BINANCE:BTCUSDT.P")

    # Act
    intent = _parse_json(payload).intent

    # Assert
    assert intent.ticker == "BINANCE:BTCUSDT.P"
    assert intent.exchange is None


def test_interval_and_numeric_order_id_become_text() -> None:
    # Arrange
    payload = _order(interval=15, id=42)

    # Act
    intent = _parse_json(payload).intent

    # Assert
    assert intent.interval == "15"
    assert intent.order_id == "42"


def test_comment_is_kept_and_truncated_to_500_characters() -> None:
    # Arrange
    payload = _order(comment="x" * 700)

    # Act
    intent = _parse_json(payload).intent

    # Assert
    assert intent.comment == "x" * 500


@pytest.mark.parametrize("contracts", [0, "0", -1, "-0.5"])
def test_zero_or_negative_contracts_are_rejected(contracts: object) -> None:
    # Arrange
    payload = _order(contracts=contracts)

    # Act / Assert
    with pytest.raises(AlertError, match="'contracts' must be positive"):
        _parse_json(payload)


@pytest.mark.parametrize("key", ["contracts", "qty", "price", "market_position_size"])
def test_empty_number_is_rejected_naming_the_field(key: str) -> None:
    # Arrange
    payload = _order(**{key: "  "})

    # Act / Assert
    with pytest.raises(AlertError, match=f"field '{key}' is empty"):
        _parse_json(payload)


@pytest.mark.parametrize("value", ["abc", "1,5", True, [1]])
def test_non_numeric_contracts_are_rejected_naming_the_field(value: object) -> None:
    # Arrange
    payload = _order(contracts=value)

    # Act / Assert
    with pytest.raises(AlertError, match="field 'contracts' is not a number"):
        _parse_json(payload)


@pytest.mark.parametrize("key", ["action", "ticker"])
def test_blank_required_field_is_rejected_naming_it(key: str) -> None:
    # Arrange
    payload = _order(**{key: ""})

    # Act / Assert
    with pytest.raises(AlertError, match=f"field '{key}' is empty"):
        _parse_json(payload)


# --- times -------------------------------------------------------------------------------------

_MOMENT = datetime(2025, 1, 15, 14, 30, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("time", "2025-01-15T14:30:05Z", _MOMENT),
        ("time", "2025-01-15T15:30:05+01:00", _MOMENT),
        ("time", "2025-01-15 14:30:05", _MOMENT),
        ("timenow", "2025-01-15T14:30:05.250Z", _MOMENT.replace(microsecond=250_000)),
        ("timestamp", 1736951405, _MOMENT),
        ("timestamp", 1736951405000, _MOMENT),
        ("timestamp", "1736951405", _MOMENT),
        ("time", "1736951405000", _MOMENT),
        ("time", 1736951405.5, _MOMENT.replace(microsecond=500_000)),
    ],
)
def test_signal_time_is_read_as_utc_from_iso_or_epoch(key: str, value: object, expected: datetime) -> None:
    # Arrange
    payload = _order(**{key: value})

    # Act
    alert = _parse_json(payload)

    # Assert
    assert alert.intent.signal_time == expected
    assert alert.intent.signal_time is not None
    assert alert.intent.signal_time.utcoffset() is not None
    assert alert.has_timestamp is True


def test_timenow_is_preferred_over_the_bar_time() -> None:
    # Arrange
    payload = _order(time="2025-01-15T14:15:00Z", timenow="2025-01-15T14:30:05Z")

    # Act
    intent = _parse_json(payload).intent

    # Assert
    assert intent.signal_time == _MOMENT


@pytest.mark.parametrize("value", ["yesterday", "2025-13-45T00:00:00Z", "99999999999999999999"])
def test_unreadable_time_is_rejected_naming_the_field(value: str) -> None:
    # Arrange
    payload = _order(timenow=value)

    # Act / Assert
    with pytest.raises(AlertError, match="field 'timenow'"):
        _parse_json(payload)


def test_alert_without_any_time_has_no_timestamp() -> None:
    # Arrange
    payload = _order(contracts=1)

    # Act
    alert = _parse_json(payload)

    # Assert
    assert alert.has_timestamp is False
    assert alert.intent.signal_time is None


# --- passphrase and dedup material -------------------------------------------------------------


@pytest.mark.parametrize("key", ["passphrase", "password", "secret", "token"])
def test_passphrase_is_read_from_any_of_its_keys(key: str) -> None:
    # Arrange
    payload = _order(**{key: "s3cret-value"})

    # Act
    alert = _parse_json(payload)

    # Assert
    assert alert.passphrase == "s3cret-value"


def test_missing_passphrase_is_none() -> None:
    # Arrange
    payload = _order()

    # Act
    alert = _parse_json(payload)

    # Assert
    assert alert.passphrase is None


def test_numeric_passphrase_is_read_as_text() -> None:
    # Arrange
    payload = _order(passphrase=123456)

    # Act
    alert = _parse_json(payload)

    # Assert
    assert alert.passphrase == "123456"


@pytest.mark.parametrize("key", ["passphrase", "password", "secret", "token", "Passphrase"])
def test_dedup_material_never_contains_the_passphrase(key: str) -> None:
    # Arrange
    payload = _order(contracts=1, **{key: "hunter2-unique"})

    # Act
    alert = _parse_json(payload)

    # Assert
    assert "hunter2-unique" not in alert.dedup_material
    assert key.lower() not in alert.dedup_material.lower()


def test_dedup_material_is_compact_sorted_json_without_the_passphrase() -> None:
    # Arrange
    body = b'{ "ticker": "BTCUSDT", "passphrase": "pw", "action": "buy", "contracts": 0.5 }'

    # Act
    alert = parse_alert(body, JSON)

    # Assert
    assert alert.dedup_material == '{"action":"buy","contracts":0.5,"ticker":"BTCUSDT"}'


def test_same_alert_with_different_passphrases_has_equal_dedup_material() -> None:
    # Arrange
    first = _order(passphrase="one", time="2025-01-15T14:30:05Z")
    second = _order(passphrase="two", time="2025-01-15T14:30:05Z")

    # Act
    materials = {_parse_json(first).dedup_material, _parse_json(second).dedup_material}

    # Assert
    assert len(materials) == 1


def test_alerts_at_different_times_have_different_dedup_material() -> None:
    # Arrange
    first = _order(time="2025-01-15T14:30:05Z")
    second = _order(time="2025-01-15T14:45:05Z")

    # Act
    materials = {_parse_json(first).dedup_material, _parse_json(second).dedup_material}

    # Assert
    assert len(materials) == 2


# --- nested strategy JSON ----------------------------------------------------------------------


def test_nested_strategy_fields_are_read() -> None:
    # Arrange
    payload = {
        "ticker": "ETHUSDT",
        "time": "2025-01-15T14:30:05Z",
        "strategy": {
            "order_action": "sell",
            "order_contracts": "2",
            "order_price": "3400.5",
            "order_id": "Short",
            "market_position": "short",
            "market_position_size": 2,
            "prev_market_position": "flat",
            "prev_market_position_size": 0,
        },
    }

    # Act
    intent = _parse_json(payload).intent

    # Assert
    assert intent.action is SignalAction.SELL
    assert intent.contracts == Decimal(2)
    assert intent.price == Decimal("3400.5")
    assert intent.order_id == "Short"
    assert intent.market_position is MarketPosition.SHORT
    assert intent.prev_market_position is MarketPosition.FLAT
    assert intent.signal_time == _MOMENT


def test_template_mirroring_strategy_order_placeholders_is_read() -> None:
    # Arrange
    payload = {
        "ticker": "BTCUSDT",
        "strategy": {
            "order": {"action": "buy", "contracts": 0.1, "price": 96000, "id": "L", "comment": "go"}
        },
    }

    # Act
    intent = _parse_json(payload).intent

    # Assert
    assert (intent.action, intent.contracts, intent.price) == (
        SignalAction.BUY,
        Decimal("0.1"),
        Decimal(96000),
    )
    assert (intent.order_id, intent.comment) == ("L", "go")


def test_flat_fields_win_over_nested_strategy_fields() -> None:
    # Arrange
    payload = _order(contracts=1, strategy={"order_action": "sell", "order_contracts": 2})

    # Act
    intent = _parse_json(payload).intent

    # Assert
    assert (intent.action, intent.contracts) == (SignalAction.BUY, Decimal(1))


def test_bar_close_is_the_price_fallback() -> None:
    # Arrange
    payload = _order(bar={"close": 96388.12})

    # Act
    intent = _parse_json(payload).intent

    # Assert
    assert intent.price == Decimal("96388.12")


def test_order_price_wins_over_bar_close() -> None:
    # Arrange
    payload = _order(bar={"close": 1}, strategy={"order_price": 2})

    # Act
    intent = _parse_json(payload).intent

    # Assert
    assert intent.price == Decimal(2)


def test_bar_time_alone_counts_as_a_timestamp() -> None:
    # Arrange
    payload = _order(bar={"time": "2025-01-15T14:30:05Z"})

    # Act
    alert = _parse_json(payload)

    # Assert
    assert alert.has_timestamp is True
    assert alert.intent.signal_time == _MOMENT


@pytest.mark.parametrize(
    ("action", "position_size", "expected_action", "expected_position", "expected_size"),
    [
        ("buy", 0.5, SignalAction.BUY, MarketPosition.LONG, Decimal("0.5")),
        ("sell", -0.5, SignalAction.SELL, MarketPosition.SHORT, Decimal("0.5")),
        ("sell", 0, SignalAction.EXIT, MarketPosition.FLAT, Decimal(0)),
    ],
)
def test_signed_strategy_position_size_gives_the_market_position(
    action: str,
    position_size: float,
    expected_action: SignalAction,
    expected_position: MarketPosition,
    expected_size: Decimal,
) -> None:
    # Arrange
    payload = _order(action=action, strategy={"position_size": position_size})

    # Act
    intent = _parse_json(payload).intent

    # Assert
    assert intent.action is expected_action
    assert intent.market_position is expected_position
    assert intent.market_position_size == expected_size


# --- body-level checks -------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"", b"   \n\t "])
def test_empty_body_is_rejected(body: bytes) -> None:
    # Arrange / Act / Assert
    with pytest.raises(AlertError, match="empty body"):
        parse_alert(body, TEXT)


def test_body_over_64_kib_is_rejected() -> None:
    # Arrange
    body = json.dumps(_order(comment="x" * MAX_BODY_BYTES)).encode("utf-8")

    # Act / Assert
    with pytest.raises(AlertError, match="limit is 65536"):
        parse_alert(body, JSON)


def test_body_of_exactly_64_kib_is_accepted() -> None:
    # Arrange
    compact = json.dumps(_order()).encode("utf-8")
    body = compact + b" " * (MAX_BODY_BYTES - len(compact))

    # Act
    alert = parse_alert(body, JSON)

    # Assert
    assert len(body) == 64 * 1024
    assert alert.intent.ticker == "BTCUSDT"


def test_body_that_is_not_utf8_is_rejected() -> None:
    # Arrange
    body = b"buy BTCUSDT \xff\xfe"

    # Act / Assert
    with pytest.raises(AlertError, match="not UTF-8"):
        parse_alert(body, TEXT)


def test_utf8_byte_order_mark_is_ignored() -> None:
    # Arrange
    body = "\ufeff".encode() + json.dumps(_order()).encode("utf-8")

    # Act
    alert = parse_alert(body, JSON)

    # Assert
    assert alert.intent.action is SignalAction.BUY


@pytest.mark.parametrize(
    ("body", "content_type", "kind"),
    [
        (b"[1, 2]", TEXT, "an array"),
        (b'[{"action": "buy"}]', JSON, "an array"),
        (b"42", JSON, "a number"),
        (b'"buy BTCUSDT"', JSON, "a string"),
        (b"null", JSON, "null"),
    ],
)
def test_json_that_is_not_an_object_is_rejected(body: bytes, content_type: str, kind: str) -> None:
    # Arrange / Act / Assert
    with pytest.raises(AlertError, match=f"not an object \\(got {kind}\\)"):
        parse_alert(body, content_type)


@pytest.mark.parametrize("content_type", [TEXT, None, JSON])
def test_body_starting_with_a_brace_is_never_read_as_text(content_type: str | None) -> None:
    # Arrange
    body = b"{buy BTCUSDT 0.01}"

    # Act / Assert
    with pytest.raises(AlertError, match=r"^body is not valid JSON: .* at line 1 column 2$"):
        parse_alert(body, content_type)


def test_invalid_json_reports_line_and_column() -> None:
    # Arrange
    body = b'{\n  "ticker": "BTCUSDT",\n  "contracts": ,\n  "action": "buy"\n}'

    # Act / Assert
    with pytest.raises(AlertError, match=r"body is not valid JSON: Expecting value at line 3 column 16"):
        parse_alert(body, TEXT)


@pytest.mark.parametrize("content_type", [TEXT, None, "application/json; charset=utf-8"])
def test_json_is_read_whatever_the_content_type(content_type: str | None) -> None:
    # Arrange
    body = json.dumps(_order(contracts=1)).encode("utf-8")

    # Act
    intent = parse_alert(body, content_type).intent

    # Assert
    assert intent.contracts == Decimal(1)


def test_json_constants_such_as_nan_are_rejected() -> None:
    # Arrange
    body = b'{"action": "buy", "ticker": "BTCUSDT", "contracts": NaN}'

    # Act / Assert
    with pytest.raises(AlertError, match="NaN"):
        parse_alert(body, TEXT)


def test_deeply_nested_json_is_rejected_without_crashing() -> None:
    # Arrange
    body = b"[" * 60_000

    # Act / Assert: refused before the parser recurses (its depth limit depends on the caller's stack)
    with pytest.raises(AlertError, match="nested more than 16 levels"):
        parse_alert(body, JSON)


# --- plain-text DSL ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "action", "ticker", "contracts", "price"),
    [
        ("BUY BTCUSDT 0.01 @ 96388.12", SignalAction.BUY, "BTCUSDT", Decimal("0.01"), Decimal("96388.12")),
        ("sell ETHUSDT", SignalAction.SELL, "ETHUSDT", None, None),
        ("close BINANCE:BTCUSDT", SignalAction.EXIT, "BINANCE:BTCUSDT", None, None),
        ("buy BTCUSDT qty=0.01 price=96000", SignalAction.BUY, "BTCUSDT", Decimal("0.01"), Decimal(96000)),
        ("BTCUSDT buy", SignalAction.BUY, "BTCUSDT", None, None),
        ("Buy btcusdt 0.01@96000", SignalAction.BUY, "btcusdt", Decimal("0.01"), Decimal(96000)),
        ("buy BTCUSDT @96000", SignalAction.BUY, "BTCUSDT", None, Decimal(96000)),
        ("close long BTCUSDT", SignalAction.EXIT, "BTCUSDT", None, None),
        ("ENTER SHORT ETHUSDT 2", SignalAction.SELL, "ETHUSDT", Decimal(2), None),
        ("exit_all SOLUSDT", SignalAction.EXIT, "SOLUSDT", None, None),
        ("long 1000PEPEUSDT 5", SignalAction.BUY, "1000PEPEUSDT", Decimal(5), None),
    ],
)
def test_text_alert_forms_are_read(
    text: str, action: SignalAction, ticker: str, contracts: Decimal | None, price: Decimal | None
) -> None:
    # Arrange / Act
    intent = _parse_text(text).intent

    # Assert
    assert (intent.action, intent.ticker, intent.contracts, intent.price) == (
        action,
        ticker,
        contracts,
        price,
    )


@pytest.mark.parametrize("token", ["passphrase=abc123", "pass=abc123", "PASSPHRASE=abc123"])
def test_text_passphrase_token_is_read_and_left_out_of_dedup_material(token: str) -> None:
    # Arrange
    text = f"BUY BTCUSDT 0.01 {token}"

    # Act
    alert = _parse_text(text)

    # Assert
    assert alert.passphrase == "abc123"
    assert alert.dedup_material == "BUY BTCUSDT 0.01"
    assert "abc123" not in alert.dedup_material


def test_text_dedup_material_is_whitespace_normalised() -> None:
    # Arrange
    text = "  BUY\tBTCUSDT \n 0.01   @  96388.12  "

    # Act
    alert = _parse_text(text)

    # Assert
    assert alert.dedup_material == "BUY BTCUSDT 0.01 @ 96388.12"
    assert alert.has_timestamp is False


def test_text_alert_with_time_key_has_a_timestamp() -> None:
    # Arrange
    text = "buy BTCUSDT time=2025-01-15T14:30:05Z exchange=BINANCE"

    # Act
    alert = _parse_text(text)

    # Assert
    assert alert.has_timestamp is True
    assert alert.intent.signal_time == _MOMENT
    assert alert.intent.exchange == "BINANCE"


def test_text_alert_is_read_without_a_content_type() -> None:
    # Arrange / Act
    intent = _parse_text("sell ETHUSDT 1", content_type=None).intent

    # Assert
    assert (intent.action, intent.contracts) == (SignalAction.SELL, Decimal(1))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("buy", "^missing ticker"),
        ("BTCUSDT 0.01", "^missing action"),
        ("buy BTCUSDT 0.01 96000", "unexpected number '96000'.*'@ 96000'"),
        ("buy BTCUSDT ETHUSDT", "unexpected word 'ETHUSDT'"),
        ("buy sell BTCUSDT", "unexpected second action 'sell'"),
        ("buy BTCUSDT foo=1", "unknown field 'foo'"),
        ("buy BTCUSDT 0.01 @", "'@' must be followed by a price"),
        ("buy BTCUSDT qty=", "field 'qty' is empty"),
        ("buy BTCUSDT 0", "'contracts' must be positive"),
        ("buy BTCUSDT 1 qty=2", "contracts given twice"),
        ("buy BTCUSDT @ cheap", "field '@' is not a number"),
        ("passphrase=abc", "^missing action"),
    ],
)
def test_bad_text_alerts_are_rejected_saying_why(text: str, message: str) -> None:
    # Arrange / Act / Assert
    with pytest.raises(AlertError, match=message):
        _parse_text(text)


# --- TradingView's default strategy message ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The number after '@' is the contracts; a positive position is a long.
        (
            "Order buy @ 0.01 filled on BTCUSDT. New strategy position is 0.01",
            {
                "action": SignalAction.BUY,
                "ticker": "BTCUSDT",
                "contracts": Decimal("0.01"),
                "price": None,
                "market_position": MarketPosition.LONG,
                "market_position_size": Decimal("0.01"),
            },
        ),
        # A message that leaves the strategy flat is an exit.
        (
            "Order sell @ 0.0152 filled on BINANCE:BTCUSDT.P. New strategy position is 0",
            {
                "action": SignalAction.EXIT,
                "ticker": "BINANCE:BTCUSDT.P",
                "contracts": Decimal("0.0152"),
                "market_position": MarketPosition.FLAT,
            },
        ),
        # A negative position is a short.
        (
            "order SELL @ 2 filled on ETHUSDT. New strategy position is -2.",
            {
                "action": SignalAction.SELL,
                "market_position": MarketPosition.SHORT,
                "market_position_size": Decimal(2),
            },
        ),
    ],
)
def test_default_strategy_message_is_read(text: str, expected: dict[str, object]) -> None:
    # Act
    intent = _parse_text(text).intent

    # Assert
    assert {name: getattr(intent, name) for name in expected} == expected


def test_default_strategy_message_after_a_prefix_and_with_a_passphrase_is_read() -> None:
    # Arrange
    text = "My Strategy (20, 50): order buy @ 3 filled on SOLUSDT passphrase=pw"

    # Act
    alert = _parse_text(text)

    # Assert
    assert (alert.intent.action, alert.intent.ticker, alert.intent.contracts) == (
        SignalAction.BUY,
        "SOLUSDT",
        Decimal(3),
    )
    assert alert.intent.market_position is None
    assert alert.passphrase == "pw"
    assert "pw" not in alert.dedup_material.split()


# --- bounds: what storage holds, and bounded work before authentication ----------------------------


@pytest.mark.parametrize(
    "contracts",
    ["1e100", '"1e400000"', '"1e400"', "100000000000000000000", '"1e-19"', "1e999999"],
)
def test_numbers_storage_cannot_hold_are_rejected_naming_the_field(contracts: str) -> None:
    # Arrange
    body = f'{{"action":"buy","ticker":"BTCUSDT","contracts":{contracts}}}'.encode()

    # Act / Assert
    with pytest.raises(AlertError, match=r"field 'contracts' .* too (large|small)"):
        parse_alert(body, JSON)


@pytest.mark.parametrize("field", ["price", "stop_loss", "take_profit", "market_position_size"])
def test_every_number_field_is_bounded(field: str) -> None:
    body = f'{{"action":"sell","ticker":"BTCUSDT","{field}":1e25}}'.encode()

    with pytest.raises(AlertError, match=f"field '{field}' .* too large"):
        parse_alert(body, JSON)


def test_the_largest_storable_number_is_accepted() -> None:
    body = b'{"action":"buy","ticker":"BTCUSDT","contracts":"99999999999999999999.999999999999999999"}'

    assert parse_alert(body, JSON).intent.contracts == Decimal("99999999999999999999.999999999999999999")


@pytest.mark.parametrize(
    "value", ["1e900000", "1e999999", '"1' + "0" * 5000 + '"', "-1e20", "253402300800000"]
)
def test_epochs_beyond_the_year_9999_are_rejected_without_being_converted(value: str) -> None:
    body = f'{{"action":"buy","ticker":"BTCUSDT","time":{value}}}'.encode()

    with pytest.raises(AlertError, match="field 'time' is out of range"):
        parse_alert(body, JSON)


def test_an_iso_time_that_leaves_the_calendar_in_utc_is_rejected() -> None:
    body = b'{"action":"buy","ticker":"BTCUSDT","time":"9999-12-31T23:00:00-05:00"}'

    with pytest.raises(AlertError, match="field 'time' is out of range"):
        parse_alert(body, JSON)


def _called_at_depth(frames: int, call: Callable[[], object]) -> object:
    """`call()` made `frames` calls deeper (a server's handler runs far down a stack)."""
    return call() if frames == 0 else _called_at_depth(frames - 1, call)


@pytest.mark.parametrize("stacked", [0, 600])
@pytest.mark.parametrize("depth", [17, 500, 950])
def test_json_nested_deeper_than_an_alert_is_rejected(depth: int, stacked: int) -> None:
    body = ('{"action":"buy","ticker":"BTCUSDT","x":' + '{"a":' * depth + "1" + "}" * depth + "}").encode()

    with pytest.raises(AlertError, match="nested more than 16 levels"):
        _called_at_depth(stacked, lambda: parse_alert(body, JSON))


@pytest.mark.parametrize(
    "body",
    [
        b'{"passphrase":"\\ud800","action":"buy","ticker":"BTCUSDT"}',
        b'{"action":"buy","ticker":"BTCUSDT","comment":"x\\udfffy"}',
        b'{"action":"buy","ticker":"BTCUSDT","\\ud800":1}',
    ],
)
def test_unpaired_surrogates_are_not_text(body: bytes) -> None:
    with pytest.raises(AlertError, match="surrogate"):
        parse_alert(body, JSON)


def test_a_paired_surrogate_escape_is_ordinary_text() -> None:
    body = b'{"action":"buy","ticker":"BTCUSDT","comment":"\\ud83d\\ude80 moon"}'

    assert parse_alert(body, JSON).intent.comment == "\U0001f680 moon"


@pytest.mark.parametrize(
    "body", [b'{"action":"buy","ticker":"BTCUSDT","comment":"a\\u0000b"}', b"buy BTCUSDT\x00"]
)
def test_nul_characters_are_not_text(body: bytes) -> None:
    with pytest.raises(AlertError, match="NUL"):
        parse_alert(body, JSON if body.startswith(b"{") else TEXT)


def test_a_ticker_longer_than_storage_holds_is_rejected() -> None:
    body = ('{"action":"buy","ticker":"' + "X" * 60 + ':BTCUSDT"}').encode()

    with pytest.raises(AlertError, match="'ticker' is 68 characters long; the limit is 64"):
        parse_alert(body, JSON)


# --- order type ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        {"order_type": "limit", "price": "96000.5"},
        {"order_type": "LIMIT", "price": 96000.5},
        {"order": {"type": "limit", "price": "96000.5"}},
        {"strategy": {"order": {"type": "Limit", "price": "96000.5"}}},
    ],
)
def test_a_limit_order_is_read_with_its_price(payload: dict[str, Any]) -> None:
    intent = _parse_json(_order(**payload)).intent

    assert (intent.order_type, intent.price) == (OrderType.LIMIT, Decimal("96000.5"))


def test_a_market_order_and_no_order_type_are_told_apart() -> None:
    assert _parse_json(_order(order_type="market")).intent.order_type is OrderType.MARKET
    assert _parse_json(_order()).intent.order_type is None


def test_order_type_in_a_text_alert() -> None:
    intent = _parse_text("buy BTCUSDT order_type=limit price=96000").intent

    assert (intent.order_type, intent.price) == (OrderType.LIMIT, Decimal("96000"))


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"order_type": "limit"}, "order_type limit needs a price"),
        ({"order_type": "stop", "price": "1"}, "expected market or limit"),
        ({"order_type": 5, "price": "1"}, "expected market or limit"),
        ({"order_type": True}, "must be text"),
        ({"order_type": "limit", "price": "0"}, "must be positive"),
        ({"order_type": "limit", "price": "NaN"}, "not a"),
        ({"order_type": "limit", "price": "{{strategy.order.price}}"}, "unrendered placeholder"),
    ],
)
def test_a_bad_order_type_or_limit_price_is_refused_with_a_reason(
    payload: dict[str, Any], message: str
) -> None:
    with pytest.raises(AlertError, match=message):
        _parse_json(_order(**payload))
