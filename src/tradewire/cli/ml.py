"""`tradewire ml train`: a LightGBM predictor from Parquet candles, as model.txt + manifest.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from tradewire.cli.common import fail, ml_app


@ml_app.command("train")
def train(
    data: Annotated[Path, typer.Option(help="candles: a <BASE>_<QUOTE>-<tf>.parquet file")],
    out: Annotated[Path, typer.Option(help="directory to write model.txt and manifest.json into")],
    horizon: Annotated[int, typer.Option(min=1, max=10_000, help="label horizon, candles ahead")] = 12,
    fee_rate: Annotated[float, typer.Option(min=0, max=0.1, help="fee per side, 0.001 = 0.1 %")] = 0.001,
    margin: Annotated[
        float, typer.Option(min=0, max=1, help="return needed beyond the round trip's fees")
    ] = 0.0,
    threshold: Annotated[float, typer.Option(min=0.01, max=0.99, help="entry probability")] = 0.6,
    folds: Annotated[int, typer.Option(min=1, max=20, help="walk-forward folds")] = 3,
    symbol: Annotated[str | None, typer.Option(help="the symbol, if the file name does not say it")] = None,
    timeframe: Annotated[
        str | None, typer.Option(help="the timeframe, if the file name does not say it")
    ] = None,
) -> None:
    """Train a LightGBM classifier (forward return beyond fees) and print its held-out metrics."""
    import re

    from tradewire.adapters.candles_parquet import CandleFileError, read_candles
    from tradewire.adapters.ml.training import manifest_for, train_series
    from tradewire.cli.backtest import _SERIES_NAME

    match = re.fullmatch(_SERIES_NAME, data.stem)
    name = symbol or (f"{match.group(1)}/{match.group(2)}" if match else None)
    frame = timeframe or (match.group(3) if match else None)
    if name is None or frame is None:
        fail("--symbol and --timeframe are needed when the file name is not <BASE>_<QUOTE>-<tf>.parquet")
    try:
        candles = read_candles(data, name.upper(), frame)
    except (CandleFileError, OSError) as exc:
        fail(f"--data: {exc}")
    try:
        text, manifest = train_series(candles, horizon, fee_rate, margin, threshold, folds)
    except ValueError as exc:
        fail(str(exc))
    manifest = manifest_for(text, manifest)
    out.mkdir(parents=True, exist_ok=True)
    (out / "model.txt").write_text(text)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    typer.echo(json.dumps({"metrics": manifest["metrics"], "backtest": manifest["backtest"]}, indent=2))
    typer.echo(f"model written to {out / 'model.txt'} (sha256 {manifest['sha256']})")
