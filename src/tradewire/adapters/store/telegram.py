"""Linked Telegram chats, their one-time link codes and users' notification settings in SQL
(`tradewire.ports.telegram.TelegramLinks`)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, insert, or_, select, update

from tradewire.adapters.store import bulk
from tradewire.adapters.store.db import SqlTables, write_transaction
from tradewire.adapters.store.tables import event_seq
from tradewire.adapters.store.telegram_tables import (
    notification_settings,
    telegram_link_codes,
    telegram_links,
    telegram_prompts,
    telegram_summaries,
)
from tradewire.ports.telegram import ChatLink, Prompt, SummarySetting


class SqlTelegramLinks(SqlTables):
    def add_link_code(self, user_id: int, digest: str, now: datetime, expires_at: datetime) -> None:
        with write_transaction(self.engine) as conn:
            # One code at a time per user; used and expired codes go with them.
            conn.execute(
                delete(telegram_link_codes).where(
                    or_(telegram_link_codes.c.user_id == user_id, telegram_link_codes.c.expires_at < now)
                )
            )
            conn.execute(
                insert(telegram_link_codes).values(
                    digest=digest, user_id=user_id, created_at=now, expires_at=expires_at
                )
            )

    def use_link_code(self, digest: str, chat_id: int, now: datetime) -> int | None:
        codes = telegram_link_codes.c
        with write_transaction(self.engine) as conn:
            used = conn.execute(
                update(telegram_link_codes)
                .where(codes.digest == digest, codes.used_at.is_(None), codes.expires_at > now)
                .values(used_at=now)
            )
            if used.rowcount != 1:
                return None
            user_id = int(conn.execute(select(codes.user_id).where(codes.digest == digest)).scalar_one())
            last = conn.execute(select(event_seq.c.last_id).where(event_seq.c.user_id == user_id)).scalar()
            conn.execute(
                delete(telegram_links).where(
                    or_(telegram_links.c.user_id == user_id, telegram_links.c.chat_id == chat_id)
                )
            )
            conn.execute(
                insert(telegram_links).values(
                    user_id=user_id, chat_id=chat_id, linked_at=now, last_event_id=int(last or 0)
                )
            )
        return user_id

    def unlink_user(self, user_id: int) -> bool:
        with write_transaction(self.engine) as conn:
            gone = conn.execute(delete(telegram_links).where(telegram_links.c.user_id == user_id))
        return bool(gone.rowcount)

    def unlink_chat(self, chat_id: int) -> int | None:
        with write_transaction(self.engine) as conn:
            user_id = conn.execute(
                select(telegram_links.c.user_id).where(telegram_links.c.chat_id == chat_id)
            ).scalar()
            conn.execute(delete(telegram_links).where(telegram_links.c.chat_id == chat_id))
        return None if user_id is None else int(user_id)

    def link_of_user(self, user_id: int) -> ChatLink | None:
        return self._one(telegram_links.c.user_id == user_id)

    def link_of_chat(self, chat_id: int) -> ChatLink | None:
        return self._one(telegram_links.c.chat_id == chat_id)

    def _one(self, where: Any) -> ChatLink | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(telegram_links).where(where)).first()
        return None if row is None else _link(row)

    def links(self) -> list[ChatLink]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(telegram_links).order_by(telegram_links.c.user_id)).all()
        return [_link(row) for row in rows]

    def advance(self, user_id: int, chat_id: int, last_event_id: int) -> bool:
        links = telegram_links.c
        with write_transaction(self.engine) as conn:
            conn.execute(
                update(telegram_links)
                .where(
                    links.user_id == user_id, links.chat_id == chat_id, links.last_event_id < last_event_id
                )
                .values(last_event_id=last_event_id)
            )
            linked = conn.execute(
                select(links.user_id).where(links.user_id == user_id, links.chat_id == chat_id)
            ).first()
        return linked is not None

    def prompt_sent(self, user_id: int, prompt: Prompt, last_event_id: int, now: datetime) -> bool:
        links, p = telegram_links.c, telegram_prompts.c
        with write_transaction(self.engine) as conn:
            forward = case((links.last_event_id < last_event_id, last_event_id), else_=links.last_event_id)
            moved = conn.execute(
                update(telegram_links)
                .where(links.user_id == user_id, links.chat_id == prompt.chat_id)
                .values(last_event_id=forward)
            )
            if moved.rowcount != 1:
                return False
            conn.execute(delete(telegram_prompts).where(p.intent_id == prompt.intent_id))
            conn.execute(
                insert(telegram_prompts).values(
                    intent_id=prompt.intent_id,
                    user_id=user_id,
                    chat_id=prompt.chat_id,
                    message_id=prompt.message_id,
                    text=prompt.text,
                    sent_at=now,
                )
            )
        return True

    def prompts(self, intent_ids: Collection[int]) -> dict[int, Prompt]:
        found: dict[int, Prompt] = {}
        p = telegram_prompts.c
        with self.engine.connect() as conn:
            for chunk in bulk.chunks(sorted(set(intent_ids)), 900):
                query = select(p.intent_id, p.chat_id, p.message_id, p.text).where(p.intent_id.in_(chunk))
                for row in conn.execute(query):
                    found[int(row.intent_id)] = Prompt(
                        int(row.intent_id), int(row.chat_id), int(row.message_id), str(row.text)
                    )
        return found

    def forget_prompts(self, before: datetime) -> int:
        with write_transaction(self.engine) as conn:
            gone = conn.execute(delete(telegram_prompts).where(telegram_prompts.c.sent_at < before))
        return int(gone.rowcount or 0)

    def notice_settings(self, user_ids: Collection[int]) -> dict[int, dict[str, bool]]:
        found: dict[int, dict[str, bool]] = {}
        s = notification_settings.c
        with self.engine.connect() as conn:
            for chunk in bulk.chunks(sorted(set(user_ids)), 900):
                rows = conn.execute(select(s.user_id, s.notice, s.enabled).where(s.user_id.in_(chunk)))
                for user_id, notice, enabled in rows:
                    found.setdefault(int(user_id), {})[str(notice)] = bool(enabled)
        return found

    def set_notices(self, user_id: int, settings: Mapping[str, bool]) -> None:
        if not settings:
            return
        s = notification_settings.c
        with write_transaction(self.engine) as conn:
            conn.execute(
                delete(notification_settings).where(s.user_id == user_id, s.notice.in_(list(settings)))
            )
            conn.execute(
                insert(notification_settings),
                [{"user_id": user_id, "notice": k, "enabled": v} for k, v in settings.items()],
            )

    def summaries(self, user_ids: Collection[int]) -> dict[int, SummarySetting]:
        found: dict[int, SummarySetting] = {}
        t = telegram_summaries.c
        with self.engine.connect() as conn:
            for chunk in bulk.chunks(sorted(set(user_ids)), 900):
                for row in conn.execute(select(telegram_summaries).where(t.user_id.in_(chunk))):
                    found[int(row.user_id)] = SummarySetting(
                        int(row.user_id), int(row.hour), str(row.time_zone), row.last_sent_on
                    )
        return found

    def set_summary(self, user_id: int, hour: int | None, time_zone: str) -> None:
        t = telegram_summaries.c
        with write_transaction(self.engine) as conn:
            if hour is None:
                conn.execute(delete(telegram_summaries).where(t.user_id == user_id))
                return
            changed = conn.execute(
                update(telegram_summaries).where(t.user_id == user_id).values(hour=hour, time_zone=time_zone)
            )
            if changed.rowcount == 0:
                conn.execute(
                    insert(telegram_summaries).values(user_id=user_id, hour=hour, time_zone=time_zone)
                )

    def summary_sent(self, user_id: int, day: str) -> bool:
        t = telegram_summaries.c
        with write_transaction(self.engine) as conn:
            done = conn.execute(
                update(telegram_summaries)
                .where(t.user_id == user_id, or_(t.last_sent_on.is_(None), t.last_sent_on < day))
                .values(last_sent_on=day)
            )
        return bool(done.rowcount == 1)


def _link(row: Any) -> ChatLink:
    return ChatLink(int(row.user_id), int(row.chat_id), row.linked_at, int(row.last_event_id))
