"""Named crash points for recovery tests: TRADEWIRE_FAILPOINT=<name> kills the process there; and
named points where a test can hold a thread to stage a race deterministically (`hooked`).

Production code marks the dangerous gaps (after intents are stored, after orders are sent, ...) so the
crash tests can stop the real server exactly there and prove that a restart neither repeats nor loses.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_ARMED = os.environ.get("TRADEWIRE_FAILPOINT", "")
log = logging.getLogger("tradewire.failpoints")


def hit(name: str) -> None:
    """Die at once, as a power cut would, if the failpoint `name` is armed."""
    if _ARMED and name == _ARMED:
        log.critical("failpoint %s: killing the process", name)
        logging.shutdown()
        os._exit(137)


_HOOKS: dict[str, Callable[[], None]] = {}


def reached(name: str) -> None:
    """Run the hook a test set on the point `name` (to hold one thread there while another races it);
    nothing happens where no test set one."""
    hook = _HOOKS.get(name)
    if hook is not None:
        hook()


@contextmanager
def hooked(name: str, hook: Callable[[], None]) -> Iterator[None]:
    """Set `hook` on the point `name` for the duration of the block (tests only)."""
    _HOOKS[name] = hook
    try:
        yield
    finally:
        _HOOKS.pop(name, None)
