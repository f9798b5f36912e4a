"""Client order ids: the names under which we send every order, derived from what caused it, so a
retry after a timeout or a restart finds the first order instead of placing a second one.

Letters and digits only, at most 32 characters: the strictest rule among the exchanges (OKX). How an
exchange wants the id passed is the live adapter's business (adapters/live/client_ids.py).
"""

from __future__ import annotations


def intent_client_order_id(intent_id: int, prefix: str = "tw") -> str:
    """A signal's order on one subscription: derived from its execution intent."""
    return f"{prefix}{intent_id:010d}"


def position_client_order_id(position_id: int, attempt: int, tranche: int | None = None) -> str:
    """An order the platform places on a position: 'tx' (an exit) or 'td' + tranche (a DCA buy), the
    position id and the attempt number, unique per attempt."""
    if tranche is None:
        return f"tx{position_id:010d}a{attempt}"
    return f"td{position_id:010d}t{tranche}a{attempt}"
