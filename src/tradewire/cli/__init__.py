"""The `tradewire` command. Imports stay inside the commands so `tradewire --help` answers at once.

One module per group of commands, registered in the order `--help` lists them; `common` holds the
command groups and what the commands share.
"""

from tradewire.cli import serve  # noqa: F401  (each module registers its commands)

# isort: split
from tradewire.cli import backtest  # noqa: F401

# isort: split
from tradewire.cli import admin, audit, data, db, exports, ml  # noqa: F401
from tradewire.cli.common import app

__all__ = ["app"]
