"""The in-memory twins of the Telegram store (ports.telegram.TelegramLinks) and of the events outbox's
reads (ports.events.EventLog), for the services' unit tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tradewire.domain.events import StoredEvent
from tradewire.ports.telegram import ChatLink, Prompt, SummarySetting


@dataclass
class MemoryOutbox:
    """Each user's events numbered 1, 2, 3 … (ports.events.EventLog)."""

    events: dict[int, list[StoredEvent]] = field(default_factory=dict)

    def add(self, user_id: int, topic: str, type_: str, data: dict[str, Any]) -> int:
        mine = self.events.setdefault(user_id, [])
        number = len(mine) + 1
        ts = datetime.now(UTC).isoformat()
        mine.append(StoredEvent(user_id, number, topic, type_, ts, json.dumps(data)))
        return number

    def events_after(self, cursors: Mapping[int, int], limit: int) -> list[StoredEvent]:
        found = [e for u in sorted(cursors) for e in self.events.get(u, []) if e.id > cursors[u]]
        return found[:limit]

    def last_event_ids(self, user_ids: Collection[int]) -> dict[int, int]:
        return {u: len(self.events[u]) for u in set(user_ids) if self.events.get(u)}

    def prune_events(self, before: datetime, limit: int) -> int:
        return 0


@dataclass
class _Code:
    user_id: int
    expires_at: datetime
    used_at: datetime | None = None


@dataclass
class MemoryTelegramLinks:
    """Links, codes and settings as the SQL store keeps them (adapters/store/telegram.py)."""

    outbox: MemoryOutbox = field(default_factory=MemoryOutbox)
    codes: dict[str, _Code] = field(default_factory=dict)
    by_user: dict[int, ChatLink] = field(default_factory=dict)
    settings: dict[int, dict[str, bool]] = field(default_factory=dict)
    summary: dict[int, SummarySetting] = field(default_factory=dict)
    sent_prompts: dict[int, tuple[Prompt, datetime]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add_link_code(self, user_id: int, digest: str, now: datetime, expires_at: datetime) -> None:
        with self._lock:
            self.codes = {d: c for d, c in self.codes.items() if c.user_id != user_id and c.expires_at >= now}
            self.codes[digest] = _Code(user_id, expires_at)

    def use_link_code(self, digest: str, chat_id: int, now: datetime) -> int | None:
        with self._lock:
            code = self.codes.get(digest)
            if code is None or code.used_at is not None or code.expires_at <= now:
                return None
            code.used_at = now
            self.by_user = {
                u: li for u, li in self.by_user.items() if u != code.user_id and li.chat_id != chat_id
            }
            last = self.outbox.last_event_ids([code.user_id]).get(code.user_id, 0)
            self.by_user[code.user_id] = ChatLink(code.user_id, chat_id, now, last)
            return code.user_id

    def unlink_user(self, user_id: int) -> bool:
        with self._lock:
            return self.by_user.pop(user_id, None) is not None

    def unlink_chat(self, chat_id: int) -> int | None:
        with self._lock:
            for user_id, link in list(self.by_user.items()):
                if link.chat_id == chat_id:
                    del self.by_user[user_id]
                    return user_id
            return None

    def link_of_user(self, user_id: int) -> ChatLink | None:
        return self.by_user.get(user_id)

    def link_of_chat(self, chat_id: int) -> ChatLink | None:
        return next((li for li in self.by_user.values() if li.chat_id == chat_id), None)

    def links(self) -> list[ChatLink]:
        return [self.by_user[u] for u in sorted(self.by_user)]

    def advance(self, user_id: int, chat_id: int, last_event_id: int) -> bool:
        with self._lock:
            link = self.by_user.get(user_id)
            if link is None or link.chat_id != chat_id:
                return False
            if link.last_event_id < last_event_id:
                self.by_user[user_id] = ChatLink(user_id, chat_id, link.linked_at, last_event_id)
            return True

    def prompt_sent(self, user_id: int, prompt: Prompt, last_event_id: int, now: datetime) -> bool:
        with self._lock:
            link = self.by_user.get(user_id)
            if link is None or link.chat_id != prompt.chat_id:
                return False
            if link.last_event_id < last_event_id:
                self.by_user[user_id] = ChatLink(user_id, link.chat_id, link.linked_at, last_event_id)
            self.sent_prompts[prompt.intent_id] = (prompt, now)
            return True

    def prompts(self, intent_ids: Collection[int]) -> dict[int, Prompt]:
        return {i: self.sent_prompts[i][0] for i in set(intent_ids) if i in self.sent_prompts}

    def forget_prompts(self, before: datetime) -> int:
        with self._lock:
            old = [i for i, (_, at) in self.sent_prompts.items() if at < before]
            for intent_id in old:
                del self.sent_prompts[intent_id]
            return len(old)

    def notice_settings(self, user_ids: Collection[int]) -> dict[int, dict[str, bool]]:
        return {u: dict(self.settings[u]) for u in user_ids if u in self.settings}

    def set_notices(self, user_id: int, settings: Mapping[str, bool]) -> None:
        self.settings.setdefault(user_id, {}).update(settings)

    def summaries(self, user_ids: Collection[int]) -> dict[int, SummarySetting]:
        return {u: self.summary[u] for u in user_ids if u in self.summary}

    def set_summary(self, user_id: int, hour: int | None, time_zone: str) -> None:
        if hour is None:
            self.summary.pop(user_id, None)
            return
        before = self.summary.get(user_id)
        self.summary[user_id] = SummarySetting(
            user_id, hour, time_zone, before.last_sent_on if before else None
        )

    def summary_sent(self, user_id: int, day: str) -> bool:
        with self._lock:
            current = self.summary.get(user_id)
            if current is None or (current.last_sent_on is not None and current.last_sent_on >= day):
                return False
            self.summary[user_id] = SummarySetting(user_id, current.hour, current.time_zone, day)
            return True
