"""The FIFO tax lots of a real sequence of fills, computed by hand: the first 13 recorded XRP/ETH trades
on Binance (2019-10-11, ids 13519807 ... 13519819) as one account's fills, with Binance's 0.1 % taker
fee in the asset received. The computation is written out in tests/unit/test_tax.py
(test_recorded_xrp_eth_fills_give_the_hand_computed_lots); tests/e2e/test_exports_http.py checks the
tax report over HTTP against the same numbers. Amounts as text, trailing zeros dropped."""

from __future__ import annotations

# (kind, disposal trade id, acquisition trade id, amount, proceeds, cost, gain): the first three sales
# come before any buy, unmatched and without a cost.
XRP_ETH_LINES: list[tuple[str, int, int | None, str, str, str | None, str | None]] = [
    ("unmatched", 13519807, None, "23", "0.03247615134", None, None),
    ("unmatched", 13519808, None, "54", "0.07620735636", None, None),
    ("unmatched", 13519809, None, "8", "0.01128997872", None, None),
    (
        "sale",
        13519813,
        13519810,
        "201",
        "0.28420287264",
        "0.284456246246246246",
        "-0.000253373606246246",
    ),
    ("sale", 13519814, 13519810, "11", "0.0155472372", "0.015567257257257257", "-0.000020020057257257"),
    ("sale", 13519815, 13519810, "3", "0.00423829746", "0.004245615615615616", "-0.000007318155615616"),
    (
        "sale",
        13519818,
        13519810,
        "365.419",
        "0.51712760177298",
        "0.517142870880880881",
        "-0.000015269107900881",
    ),
    (
        "sale",
        13519818,
        13519811,
        "134.581",
        "0.19045410822702",
        "0.190459731721721722",
        "-0.000005623494701722",
    ),
    (
        "sale",
        13519819,
        13519811,
        "141",
        "0.19922815242",
        "0.199543933933933934",
        "-0.000315781513933934",
    ),
]

# (acquisition trade id, amount left, its cost) of the lots still open at the end.
XRP_ETH_OPEN_LOTS: list[tuple[int, str, str]] = [
    (13519811, "313.829", "0.444132434344344344"),
    (13519812, "10.989", "0.01557127"),
    (13519816, "10.989", "0.01557567"),
    (13519817, "10.989", "0.01557776"),
]
