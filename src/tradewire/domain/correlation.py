"""How closely pairs move together: the correlation of their recent candle-to-candle returns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

MIN_RETURNS = 20  # fewer overlapping returns than this say nothing reliable about correlation


def returns_correlation(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Pearson correlation of the simple returns of two close series, aligned on their latest candles.

    Both series must end at the same candle (as two fetches of the same timeframe and limit do).
    None when they overlap by too few candles or one of them does not move.
    """
    n = min(len(a), len(b))
    if n - 1 < MIN_RETURNS:
        return None
    ra = _returns(np.asarray(a[-n:], dtype=np.float64))
    rb = _returns(np.asarray(b[-n:], dtype=np.float64))
    usable = np.isfinite(ra) & np.isfinite(rb)
    if int(usable.sum()) < MIN_RETURNS:
        return None
    ra, rb = ra[usable], rb[usable]
    if float(ra.std()) == 0.0 or float(rb.std()) == 0.0:
        return None
    return float(np.corrcoef(ra, rb)[0, 1])


def correlated_with(
    candidate: str,
    open_symbols: Sequence[str],
    closes: Mapping[str, Sequence[float]],
    threshold: float,
) -> tuple[tuple[str, float], ...]:
    """The open pairs whose returns correlate with `candidate`'s above `threshold`, highest first.

    A pair already open in the candidate's own symbol is not counted: adding to it is no new exposure
    to a different market. Pairs without candles cannot be measured and are not counted.
    """
    mine = closes.get(candidate)
    if mine is None:
        return ()
    found = []
    for symbol in dict.fromkeys(open_symbols):
        theirs = closes.get(symbol)
        if symbol == candidate or theirs is None:
            continue
        rho = returns_correlation(mine, theirs)
        if rho is not None and rho > threshold:
            found.append((symbol, round(rho, 4)))
    return tuple(sorted(found, key=lambda item: -item[1]))


def _returns(closes: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    with np.errstate(divide="ignore", invalid="ignore"):
        result: npt.NDArray[np.float64] = closes[1:] / closes[:-1] - 1.0
    return result
