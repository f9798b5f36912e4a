"""Audit log entries as the API shows them."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from tradewire.domain.audit import Entry


class AuditEntryOut(BaseModel):
    seq: int = Field(description="the entry's number in the platform's one chain (gaps: others' entries)")
    at: datetime
    user_id: int | None
    username: str
    action: str
    target_type: str | None = Field(description="what the action was on: account, strategy, subscription …")
    target_id: int | None
    detail: dict[str, Any] = Field(description="a few facts about the action; never a secret")
    address: str = Field(
        description="the client's address (behind trusted proxies: the one they saw); empty in your "
        "trail for what someone else (an admin) did to your user"
    )
    client: str = Field(description="the client's User-Agent, cut to 200 characters; empty as address is")
    prev_hash: str
    hash: str = Field(description="SHA-256 over prev_hash and the entry (tradewire audit verify)")

    @classmethod
    def of(cls, entry: Entry) -> AuditEntryOut:
        try:
            detail = json.loads(entry.detail)
        except ValueError:
            detail = {}
        return cls(
            seq=entry.seq,
            at=entry.at,
            user_id=entry.user_id,
            username=entry.username,
            action=entry.action,
            target_type=entry.target_type,
            target_id=entry.target_id,
            detail=detail if isinstance(detail, dict) else {},
            address=entry.address,
            client=entry.client,
            prev_hash=entry.prev_hash,
            hash=entry.hash,
        )
