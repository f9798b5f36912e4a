"""Named crash points for recovery tests: TRADEWIRE_FAILPOINT=<name> kills the process there.

Production code marks the dangerous gaps (after intents are stored, after orders are sent, ...) so the
crash tests can stop the real server exactly there and prove that a restart neither repeats nor loses.
"""

from __future__ import annotations

import logging
import os

_ARMED = os.environ.get("TRADEWIRE_FAILPOINT", "")
log = logging.getLogger("tradewire.failpoints")


def hit(name: str) -> None:
    """Die at once, as a power cut would, if the failpoint `name` is armed."""
    if _ARMED and name == _ARMED:
        log.critical("failpoint %s: killing the process", name)
        logging.shutdown()
        os._exit(137)
