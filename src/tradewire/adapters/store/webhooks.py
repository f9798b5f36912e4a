"""Users' outgoing webhooks in SQL (`tradewire.ports.webhooks.HookStore`): secrets sealed by the
caller, never read back to a user; each hook's cursor in its user's events."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from tradewire.adapters.store.db import write_transaction
from tradewire.adapters.store.member_rows import MemberRows, owned
from tradewire.adapters.store.tables import event_seq, users
from tradewire.adapters.store.webhook_tables import webhook_endpoints
from tradewire.domain.members import Conflict, NotFound
from tradewire.domain.webhooks import HookKind
from tradewire.ports.webhooks import Hook, HookChanges, HookTarget, NewHook

_PUBLIC = [c for c in webhook_endpoints.c if c.name != "secret_enc"]


def _hook(r: Any) -> Hook:
    return Hook(
        int(r["id"]),
        int(r["user_id"]),
        str(r["url"]),
        HookKind(r["kind"]),
        {str(k): bool(v) for k, v in dict(r["notices"] or {}).items()},
        bool(r["enabled"]),
        r["created_at"],
        int(r["last_event_id"]),
    )


def _target(r: Any) -> HookTarget:
    return HookTarget(_hook(r), str(r["secret_enc"]))


def _last_event(conn: Connection, user_id: int) -> int:
    last = conn.execute(select(event_seq.c.last_id).where(event_seq.c.user_id == user_id)).scalar()
    return int(last or 0)


class SqlHooks(MemberRows):
    def add_hook(
        self, user_id: int, request: NewHook, now: datetime, seal: Callable[[int], str], most: int
    ) -> Hook:
        w = webhook_endpoints.c
        with write_transaction(self.engine) as conn:
            # The user's row locked (PostgreSQL; SQLite's write transaction is one at a time): two
            # creations at once cannot both see room for one more.
            conn.execute(select(users.c.id).where(users.c.id == user_id).with_for_update()).first()
            count = conn.execute(select(func.count()).where(w.user_id == user_id)).scalar_one()
            if count >= most:
                raise Conflict(f"you have {count} webhooks, the most allowed; delete one first")
            values = {
                "user_id": user_id,
                "url": request.url,
                "kind": request.kind.value,
                "notices": dict(request.notices),
                "enabled": request.enabled,
                "secret_enc": "",
                "created_at": now,
                "last_event_id": _last_event(conn, user_id),
            }
            key = conn.execute(insert(webhook_endpoints).values(values)).inserted_primary_key
            assert key is not None
            hook_id = int(key[0])
            conn.execute(update(webhook_endpoints).where(w.id == hook_id).values(secret_enc=seal(hook_id)))
            row = conn.execute(select(*_PUBLIC).where(w.id == hook_id)).one()
        return _hook(row._mapping)

    def hooks(self, user_id: int) -> list[Hook]:
        w = webhook_endpoints.c
        return self._records(select(*_PUBLIC).where(w.user_id == user_id).order_by(w.id), _hook)

    def hook(self, user_id: int, hook_id: int) -> HookTarget:
        query = select(webhook_endpoints).where(owned(webhook_endpoints, hook_id, user_id))
        return self._record(query, _target, f"no webhook {hook_id}")

    def update_hook(self, user_id: int, hook_id: int, changes: HookChanges) -> Hook:
        w = webhook_endpoints.c
        with write_transaction(self.engine) as conn:
            row = conn.execute(select(*_PUBLIC).where(owned(webhook_endpoints, hook_id, user_id))).first()
            if row is None:
                raise NotFound(f"no webhook {hook_id}")
            before = _hook(row._mapping)
            values: dict[str, Any] = {}
            if changes.url is not None:
                values["url"] = changes.url
            if changes.kind is not None:
                values["kind"] = changes.kind.value
            if changes.notices is not None:
                values["notices"] = {**before.notices, **changes.notices}
            if changes.enabled is not None:
                values["enabled"] = changes.enabled
                if changes.enabled and not before.enabled:
                    values["last_event_id"] = max(before.last_event_id, _last_event(conn, user_id))
            if values:
                conn.execute(update(webhook_endpoints).where(w.id == hook_id).values(values))
            row = conn.execute(select(*_PUBLIC).where(w.id == hook_id)).one()
        return _hook(row._mapping)

    def delete_hook(self, user_id: int, hook_id: int) -> None:
        with write_transaction(self.engine) as conn:
            gone = conn.execute(delete(webhook_endpoints).where(owned(webhook_endpoints, hook_id, user_id)))
        if gone.rowcount != 1:
            raise NotFound(f"no webhook {hook_id}")

    def deliverable(self) -> list[HookTarget]:
        w = webhook_endpoints.c
        return self._records(select(webhook_endpoints).where(w.enabled.is_(True)).order_by(w.id), _target)

    def advance(self, hook_id: int, last_event_id: int, url: str) -> bool:
        w = webhook_endpoints.c
        mine = (w.id == hook_id, w.enabled.is_(True), w.url == url)
        with write_transaction(self.engine) as conn:
            conn.execute(
                update(webhook_endpoints)
                .where(*mine, w.last_event_id < last_event_id)
                .values(last_event_id=last_event_id)
            )
            found = conn.execute(select(w.id).where(*mine)).first()
        return found is not None

    def sealed_secrets(self) -> list[tuple[int, str]]:
        w = webhook_endpoints.c
        with self.engine.connect() as conn:
            return [(int(r.id), str(r.secret_enc)) for r in conn.execute(select(w.id, w.secret_enc))]

    def reseal_secret(self, hook_id: int, secret_enc: str) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(
                update(webhook_endpoints)
                .where(webhook_endpoints.c.id == hook_id)
                .values(secret_enc=secret_enc)
            )
