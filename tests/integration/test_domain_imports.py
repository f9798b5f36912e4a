"""The domain stays free of plotting: importing the backtest and its metrics in a new interpreter leaves
matplotlib unloaded (moved from tests/unit/test_charts.py: each runs a process)."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["tradewire.domain.backtest", "tradewire.domain.metrics"])
def test_the_domain_does_not_import_a_plotting_library(module: str) -> None:
    code = f"import sys, {module}; sys.exit('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
