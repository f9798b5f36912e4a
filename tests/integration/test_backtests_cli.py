"""`tradewire backtest` and `tradewire data download`, run as the real command in a subprocess."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from matplotlib.image import imread

from tests.conftest import free_port
from tests.fakes.exchange import FakeExchange
from tradewire.adapters.candles_parquet import read_candles
from tradewire.domain.backtest import BacktestConfig, BacktestResult, run_backtest
from tradewire.domain.candles import Candles
from tradewire.domain.exits import ExitRules
from tradewire.domain.sizing import Sizing, SizingMode
from tradewire.domain.strategies.builtin import build_strategy

TRADEWIRE = str(Path(sys.executable).parent / "tradewire")
HOUR_MS = 3_600_000


def tradewire(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([TRADEWIRE, *args], capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def eth_btc(data_dir: Path) -> Path:
    path = data_dir / "ohlcv" / "freqtrade" / "ETH_BTC-5m.parquet"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return path


def direct(paths: dict[str, Path], params: dict[str, Any] | None = None, fast: bool = True) -> BacktestResult:
    """What the command computes, called directly: ema_cross, SL 2 % / TP 4 %, 500 per trade."""
    candles = {symbol: read_candles(path, symbol, "5m") for symbol, path in paths.items()}
    config = BacktestConfig(
        initial_capital=20_000.0,
        fee_rate=0.001,
        slippage=0.0005,
        sizing=Sizing(SizingMode.FIXED_QUOTE, Decimal("500.0")),
        exit_rules=ExitRules(stop_loss_pct=Decimal("2.0"), take_profit_pct=Decimal("4.0")),
        timeframe="5m",
    )
    return run_backtest(build_strategy("ema_cross", params), candles, config, fast=fast)


SETTINGS = ["--capital", "20000", "--slippage", "0.0005", "--stake", "500", "--sl-pct", "2", "--tp-pct", "4"]


def test_the_summary_shows_the_figures_of_run_backtest(eth_btc: Path, tmp_path: Path) -> None:
    plot = tmp_path / "equity.png"
    done = tradewire(
        "backtest", "--strategy", "ema_cross", "--data", str(eth_btc), *SETTINGS, "--trades", "4",
        "--plot", str(plot),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no progress bar when stderr is not a terminal
    expected = direct({"ETH/BTC": eth_btc})
    report = expected.report
    assert report.trades > 0
    lines = done.stdout.splitlines()
    assert lines[0].startswith("ema_cross ETH/BTC 5m: ")
    for label, value in report.summary_rows():
        assert any(re.fullmatch(rf"{re.escape(label)}\s+{re.escape(value)}", line) for line in lines), label
    pair_line = next(line for line in lines if line.startswith("ETH/BTC "))
    assert pair_line.split()[1] == str(report.per_pair[0].trades)
    for row in report.per_exit_reason:
        assert any(line.split()[:2] == [row.reason, str(row.trades)] for line in lines), row.reason
    assert "Last 4 trades" in lines
    last_exit = expected.trades[-1]
    assert lines[-3].split()[-2] == f"{last_exit.return_pct:+.2f}"
    chart = plot.read_bytes()
    assert chart[:8] == b"\x89PNG\r\n\x1a\n" and b"tEXtTitle\x00ema_cross ETH/BTC 5m" in chart
    assert imread(plot).shape[:2] == (900, 1400)


def test_json_is_the_result_of_run_backtest(eth_btc: Path) -> None:
    params = {"fast": 9, "slow": 21}
    done = tradewire(
        "backtest", "--strategy", "ema_cross", "--params", json.dumps(params), "--data", str(eth_btc),
        *SETTINGS, "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    expected = direct({"ETH/BTC": eth_btc}, params).to_json()
    assert got["trades"] == expected["trades"]
    assert got["report"] == expected["report"]
    assert got["equity"] == expected["equity"]
    assert got["path"] == "fast"


def test_json_carries_full_precision_while_the_table_rounds(eth_btc: Path) -> None:
    done = tradewire("backtest", "--strategy", "ema_cross", "--data", str(eth_btc), *SETTINGS, "--json")
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    result = direct({"ETH/BTC": eth_btc})
    report = result.report

    for name in ("sharpe", "sortino", "calmar", "total_return_pct", "max_drawdown_pct", "final_equity"):
        assert got["report"][name] == getattr(report, name), name  # exactly the float computed
    assert got["report"]["sharpe"] != round(report.sharpe, 4)
    assert [t["pnl"] for t in got["trades"]] == [t.pnl for t in result.trades]
    assert [t["return_pct"] for t in got["trades"]] == [t.return_pct for t in result.trades]
    table = tradewire("backtest", "--strategy", "ema_cross", "--data", str(eth_btc), *SETTINGS)
    assert f"{report.sharpe:,.2f}" in table.stdout and repr(report.sharpe) not in table.stdout


def test_event_driven_gives_the_same_trades(eth_btc: Path) -> None:
    fast = tradewire("backtest", "--strategy", "ema_cross", "--data", str(eth_btc), *SETTINGS, "--json")
    event = tradewire(
        "backtest", "--strategy", "ema_cross", "--data", str(eth_btc), *SETTINGS, "--json", "--event-driven"
    )
    assert fast.returncode == event.returncode == 0, event.stderr
    fast_json, event_json = json.loads(fast.stdout), json.loads(event.stdout)
    assert (fast_json["path"], event_json["path"]) == ("fast", "event")
    # The same trades; amounts and PnL agree to float rounding (Decimal accounting on the event path).
    keys = ("symbol", "entry_time_ms", "exit_time_ms", "entry_price", "exit_price", "exit_reason")
    assert [[t[k] for k in keys] for t in fast_json["trades"]] == [
        [t[k] for k in keys] for t in event_json["trades"]
    ]
    np.testing.assert_allclose(
        [t["pnl"] for t in fast_json["trades"]], [t["pnl"] for t in event_json["trades"]], atol=1e-9
    )


def test_a_directory_backtests_every_pair_of_the_timeframe_on_one_account(
    data_dir: Path, tmp_path: Path
) -> None:
    source = data_dir / "ohlcv" / "freqtrade"
    for name in ("ETH_BTC-5m.parquet", "LTC_BTC-5m.parquet", "UNITTEST_BTC-1m.parquet"):
        (tmp_path / name).symlink_to(source / name)
    done = tradewire(
        "backtest",
        "--strategy",
        "ema_cross",
        "--data",
        str(tmp_path),
        "--timeframe",
        "5m",
        *SETTINGS,
        "--json",
    )
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    expected = direct({"ETH/BTC": source / "ETH_BTC-5m.parquet", "LTC/BTC": source / "LTC_BTC-5m.parquet"})
    assert [p["symbol"] for p in got["report"]["per_pair"]] == ["ETH/BTC", "LTC/BTC"]
    assert got["trades"] == expected.to_json()["trades"]


def test_a_window_and_a_time_limit(eth_btc: Path) -> None:
    done = tradewire(
        "backtest", "--strategy", "rsi_mean_reversion", "--data", str(eth_btc), "--start", "2018-01-15",
        "--end", "2018-01-20T12:00", "--max-hold", "2h", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    trades = json.loads(done.stdout)["trades"]
    assert trades
    start_ms = int(datetime(2018, 1, 15, tzinfo=UTC).timestamp() * 1000)
    end_ms = int(datetime(2018, 1, 20, 12, tzinfo=UTC).timestamp() * 1000)
    assert all(start_ms <= t["entry_time_ms"] <= t["exit_time_ms"] < end_ms for t in trades)
    assert all(t["exit_time_ms"] - t["entry_time_ms"] <= 2 * HOUR_MS for t in trades)
    assert "TIMEOUT" in {t["exit_reason"] for t in trades}


@pytest.fixture
def no_volume(eth_btc: Path, tmp_path: Path) -> Path:
    path = tmp_path / "ETH_BTC-5m.parquet"
    pq.write_table(pq.read_table(eth_btc).drop(["volume"]), path)
    return path


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--strategy", "nope"], "unknown strategy 'nope'"),
        (["--strategy", "ema_cross", "--params", "{fast: 9"], "--params is not valid JSON"),
        (["--strategy", "ema_cross", "--params", '{"fast": 40}'], "fast must be shorter than slow"),
        (["--strategy", "ema_cross", "--params", '{"speed": 4}'], "speed: unknown parameter"),
        (["--strategy", "ema_cross", "--fee", "1.5"], "fee_rate must be in [0, 1)"),
        (["--strategy", "ema_cross", "--start", "someday"], "--start: 'someday' is not a date"),
        (["--strategy", "ema_cross", "--start", "2030-01-01"], "no candles in the chosen window"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(eth_btc: Path, args: list[str], words: str) -> None:
    done = tradewire("backtest", "--data", str(eth_btc), *args)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: ")
    assert words in done.stderr


def test_a_missing_file_or_column_is_one_clear_line_and_exit_2(tmp_path: Path, no_volume: Path) -> None:
    missing = tradewire("backtest", "--strategy", "ema_cross", "--data", str(tmp_path / "ETH_BTC-1h.parquet"))
    column = tradewire("backtest", "--strategy", "ema_cross", "--data", str(no_volume))
    for done, words in ((missing, "no such file or directory"), (column, "missing column(s) volume")):
        assert done.returncode == 2
        assert done.stdout == ""
        assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: ")
        assert words in done.stderr


BAD_ROW = 1200


@pytest.mark.parametrize(
    ("column", "value", "words"),
    [
        ("close", float("nan"), "close is missing (NaN)"),
        ("high", float("inf"), "high is infinite"),
        ("low", float("-inf"), "low is infinite"),
        ("open", 0.0, "open is 0 (a price must be above 0)"),
        ("low", -1.0, "low is -1 (a price must be above 0)"),
        ("high", 0.05, "high 0.05 is below low"),
        ("volume", -5.0, "volume is -5 (it cannot be negative)"),
        ("volume", float("nan"), "volume is missing (NaN)"),
    ],
)
def test_a_candle_no_market_can_print_is_one_line_naming_the_file_and_row(
    eth_btc: Path, tmp_path: Path, column: str, value: float, words: str
) -> None:
    table = pq.read_table(eth_btc).slice(0, 3000)
    columns = {name: table.column(name).to_numpy().copy() for name in table.column_names}
    columns[column][BAD_ROW] = value
    path = tmp_path / "ETH_BTC-5m.parquet"
    pq.write_table(pa.table(columns), path)

    for extra in ([], ["--json"]):
        done = tradewire("backtest", "--strategy", "ema_cross", "--data", str(path), *extra)
        assert done.returncode == 2
        assert done.stdout == ""
        assert done.stderr.count("\n") == 1, done.stderr
        assert done.stderr.startswith(f"error: {path}: row {BAD_ROW} (opened 2018-01-14 08:55 UTC): ")
        assert words in done.stderr


# -- data download ----------------------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeExchange]:
    with FakeExchange("binance", prices={"BTC/USDT": "60000"}) as exchange:
        yield exchange


def download(
    fake_urls: dict[str, Any], out: Path, since: datetime, *more: str
) -> subprocess.CompletedProcess[str]:
    overrides = [arg for key, url in fake_urls.items() for arg in ("--api-url", f"{key}={url}")]
    return tradewire(
        "data", "download", "--exchange", "binance", "--symbol", "BTC/USDT", "--timeframe", "1h",
        "--since", since.strftime("%Y-%m-%dT%H:%M"), "--out", str(out), *overrides, *more,
    )  # fmt: skip


def _hour(moment: datetime) -> int:
    """The open time of the first whole hour at or after `moment`, in ms."""
    ms = int(moment.timestamp() * 1000)
    return -(-ms // HOUR_MS) * HOUR_MS


def test_download_pages_writes_parquet_and_merges_without_duplicates(
    fake: FakeExchange, tmp_path: Path
) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    first_since = now - timedelta(hours=2_300)  # three pages of at most 1,000 candles
    done = download(fake.ccxt_urls(), tmp_path, first_since)
    assert done.returncode == 0, done.stderr
    path = tmp_path / "ohlcv" / "binance" / "BTC_USDT-1h.parquet"
    schema = pq.read_schema(path)
    assert [(f.name, str(f.type)) for f in schema] == [
        ("ts", "int64"), ("open", "double"), ("high", "double"), ("low", "double"), ("close", "double"),
        ("volume", "double"),
    ]  # fmt: skip
    candles = read_candles(path, "BTC/USDT", "1h")
    assert int(candles.ts[0]) == _hour(first_since)
    assert bool((np.diff(candles.ts) == HOUR_MS).all())
    # Only closed candles: the one still forming now is left out.
    assert int(candles.ts[-1]) + HOUR_MS <= int(datetime.now(UTC).timestamp() * 1000)
    assert len(candles) >= 2_299
    assert set(candles.close.tolist()) == {60_000.0}
    klines = [r for r in fake.request_log if r.path.endswith("/klines")]
    assert len(klines) >= 3

    # A second download of an earlier, overlapping period at a new price: merged, the new values win.
    fake.set_price("BTC/USDT", "61000")
    second_since, until = now - timedelta(hours=2_500), now - timedelta(hours=2_000)
    again = download(fake.ccxt_urls(), tmp_path, second_since, "--until", until.strftime("%Y-%m-%dT%H:%M"))
    assert again.returncode == 0, again.stderr
    merged = read_candles(path, "BTC/USDT", "1h")  # strictly increasing times: no duplicates
    assert int(merged.ts[0]) == _hour(second_since)
    assert int(merged.ts[-1]) >= int(candles.ts[-1])
    assert bool((np.diff(merged.ts) == HOUR_MS).all())
    until_ms = int(until.timestamp() * 1000)
    assert set(_closes(merged, merged.ts < until_ms)) == {61_000.0}
    assert set(_closes(merged, merged.ts >= until_ms)) == {60_000.0}
    added = int(re.search(r", (\d+) new:", again.stdout).group(1))  # type: ignore[union-attr]
    assert added == len(merged) - len(candles) > 0


def _closes(candles: Candles, mask: Any) -> list[float]:
    return candles.close[mask].tolist()


def test_download_network_error_is_one_line_and_exit_1(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}/api/v3"
    done = download({"public": dead}, tmp_path, datetime.now(UTC) - timedelta(hours=5))
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: cannot reach binance")
    assert not (tmp_path / "ohlcv").exists()


def test_download_bad_input_exits_2(fake: FakeExchange, tmp_path: Path) -> None:
    since = datetime.now(UTC) - timedelta(hours=5)
    unknown = download(fake.ccxt_urls(), tmp_path, since, "--timeframe", "7x")
    assert unknown.returncode == 2 and "unknown timeframe '7x'" in unknown.stderr
    bad_key = download({"nope": fake.base_url}, tmp_path, since)
    assert bad_key.returncode == 2 and "has no API url key 'nope'" in bad_key.stderr


@pytest.mark.parametrize(
    ("exchange", "symbol", "words"),
    [
        ("binance", "NOPE/USDT", "error: binance has no market NOPE/USDT"),
        ("Exchange", "BTC/USDT", "error: --exchange: ccxt does not know 'Exchange'"),  # ccxt's base class
        ("binance", "../BTC/USDT", "error: --symbol: not a unified symbol like 'BTC/USDT'"),
    ],
)
def test_download_of_no_market_is_one_line_and_exit_2(
    fake: FakeExchange, tmp_path: Path, exchange: str, symbol: str, words: str
) -> None:
    since = (datetime.now(UTC) - timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M")
    overrides = [arg for key, url in fake.ccxt_urls().items() for arg in ("--api-url", f"{key}={url}")]

    done = tradewire(
        "data", "download", "--exchange", exchange, "--symbol", symbol, "--since", since,
        "--out", str(tmp_path), *overrides,
    )  # fmt: skip

    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(words), done.stderr
    assert not (tmp_path / "ohlcv").exists()
