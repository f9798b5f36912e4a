"""`tradewire ml train` on a real shared candle file: files, manifest, metrics, determinism."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from typer.testing import CliRunner

from tests.support import train_model
from tradewire.adapters.ml.lightgbm_model import load_predictor
from tradewire.cli import app
from tradewire.domain.ml.features import FEATURE_SET


def _train(data_dir: Path, out: Path) -> dict[str, object]:
    train_model(data_dir, out)
    manifest: dict[str, object] = json.loads((out / "manifest.json").read_text())
    return manifest


def test_training_writes_a_text_model_and_its_manifest_deterministically(
    data_dir: Path, tmp_path: Path
) -> None:
    manifest = _train(data_dir, tmp_path / "a")
    text = (tmp_path / "a/model.txt").read_text()

    assert text.startswith("tree")
    assert manifest["sha256"] == hashlib.sha256(text.encode()).hexdigest()
    assert manifest["feature_set"] == {"name": "candles", "version": 1, "names": list(FEATURE_SET.names)}
    assert manifest["horizon"] == 12 and manifest["symbol"] == "ETH/BTC" and manifest["timeframe"] == "5m"
    metrics = manifest["metrics"]
    assert isinstance(metrics, dict)
    assert 0 <= metrics["auc"] <= 1 and metrics["log_loss"] > 0 and len(metrics["fold_auc"]) == 3
    training, test = manifest["training_range"], manifest["test_range"]
    assert isinstance(training, dict) and isinstance(test, dict)
    assert training["end"] < test["start"]
    assert isinstance(manifest["backtest"], dict) and "trades" in manifest["backtest"]
    assert load_predictor(text).feature_names == FEATURE_SET.names
    # Same data, same model, byte for byte.
    again = _train(data_dir, tmp_path / "b")
    assert again["sha256"] == manifest["sha256"]


def test_a_file_too_short_to_train_on_is_refused(data_dir: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "ml",
            "train",
            "--data",
            str(data_dir / "ohlcv/binance/BTC_USDT-1d.parquet"),
            "--out",
            str(tmp_path),
        ],
    )

    assert result.exit_code == 2
    assert "too few" in result.output


def test_the_backtest_command_runs_a_lightgbm_model_file(data_dir: Path, tmp_path: Path) -> None:
    from tradewire.adapters.candles_parquet import read_candles
    from tradewire.domain.backtest import BacktestConfig, run_backtest
    from tradewire.domain.ml.strategy import LightgbmParams, LightgbmStrategy

    _train(data_dir, tmp_path)
    series = data_dir / "ohlcv/freqtrade/ETH_BTC-5m.parquet"
    base = ["backtest", "--strategy", "lightgbm", "--data", str(series), "--params", '{"threshold": 0.55}']
    without = CliRunner().invoke(app, [*base[:-1], '{"threshold": 0.55, "model_id": 1}'])
    assert without.exit_code == 2 and "no model" in without.output
    result = CliRunner().invoke(app, [*base, "--model", str(tmp_path / "model.txt"), "--json"])
    assert result.exit_code == 0, result.output
    trades = json.loads(result.output)["trades"]
    predictor = load_predictor((tmp_path / "model.txt").read_text())
    strategy = LightgbmStrategy(LightgbmParams(model_id=1, threshold=0.55), predictor)
    direct = run_backtest(strategy, {"ETH/BTC": read_candles(series, "ETH/BTC", "5m")}, BacktestConfig())
    assert trades and trades == direct.to_json()["trades"]
