"""Users' outgoing webhooks in memory, as the SQL store keeps them (adapters/store/webhooks.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from tests.fakes.memory_telegram import MemoryOutbox
from tradewire.domain.members import Conflict, NotFound
from tradewire.ports.webhooks import Hook, HookChanges, HookTarget, NewHook

# The data of a fill's and of a closed position's event, as the outbox hands them to the hooks.
FILL = {
    "side": "buy",
    "symbol": "BTC/USDT",
    "amount": "0.00123",
    "price": "64000.5",
    "fee": "0.0787",
    "fee_currency": "USDT",
    "order_id": 11,
    "account_id": 3,
}
CLOSED = {
    "position_id": 5,
    "symbol": "ETH/USDT",
    "close_reason": "take_profit",
    "realized_pnl": "12.345",
    "fees": "0.2",
    "account_id": 3,
}


@dataclass
class MemoryHooks:
    outbox: MemoryOutbox = field(default_factory=MemoryOutbox)
    rows: dict[int, HookTarget] = field(default_factory=dict)
    _next: int = 1
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _last(self, user_id: int) -> int:
        return self.outbox.last_event_ids([user_id]).get(user_id, 0)

    def add_hook(
        self, user_id: int, request: NewHook, now: datetime, seal: Callable[[int], str], most: int
    ) -> Hook:
        with self._lock:
            count = sum(1 for t in self.rows.values() if t.hook.user_id == user_id)
            if count >= most:
                raise Conflict(f"you have {count} webhooks, the most allowed; delete one first")
            hook_id, self._next = self._next, self._next + 1
            r = request
            hook = Hook(hook_id, user_id, r.url, r.kind, dict(r.notices), r.enabled, now, self._last(user_id))
            self.rows[hook_id] = HookTarget(hook, seal(hook_id))
            return hook

    def hooks(self, user_id: int) -> list[Hook]:
        return [t.hook for _, t in sorted(self.rows.items()) if t.hook.user_id == user_id]

    def hook(self, user_id: int, hook_id: int) -> HookTarget:
        found = self.rows.get(hook_id)
        if found is None or found.hook.user_id != user_id:
            raise NotFound(f"no webhook {hook_id}")
        return found

    def update_hook(self, user_id: int, hook_id: int, changes: HookChanges) -> Hook:
        with self._lock:
            target = self.hook(user_id, hook_id)
            hook = target.hook
            if changes.url is not None:
                hook = replace(hook, url=changes.url)
            if changes.kind is not None:
                hook = replace(hook, kind=changes.kind)
            if changes.notices is not None:
                hook = replace(hook, notices={**hook.notices, **changes.notices})
            if changes.enabled is not None:
                if changes.enabled and not hook.enabled:
                    hook = replace(hook, last_event_id=max(hook.last_event_id, self._last(user_id)))
                hook = replace(hook, enabled=changes.enabled)
            self.rows[hook_id] = replace(target, hook=hook)
            return hook

    def delete_hook(self, user_id: int, hook_id: int) -> None:
        with self._lock:
            self.hook(user_id, hook_id)
            del self.rows[hook_id]

    def deliverable(self) -> list[HookTarget]:
        return [t for _, t in sorted(self.rows.items()) if t.hook.enabled]

    def advance(self, hook_id: int, last_event_id: int, url: str) -> bool:
        with self._lock:
            target = self.rows.get(hook_id)
            if target is None or not target.hook.enabled or target.hook.url != url:
                return False
            if target.hook.last_event_id < last_event_id:
                self.rows[hook_id] = replace(target, hook=replace(target.hook, last_event_id=last_event_id))
            return True

    def sealed_secrets(self) -> list[tuple[int, str]]:
        return [(i, t.secret_enc) for i, t in sorted(self.rows.items())]

    def reseal_secret(self, hook_id: int, secret_enc: str) -> None:
        self.rows[hook_id] = replace(self.rows[hook_id], secret_enc=secret_enc)
