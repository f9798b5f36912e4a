"""Outgoing webhooks as the services see them: the store of users' hooks (each with its cursor in its
user's events and its sealed secret) and the poster that makes the HTTP requests
(adapters/store/webhooks.py, adapters/webhooks.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from tradewire.domain.webhooks import HookKind


@dataclass(frozen=True, slots=True)
class Hook:
    """A user's webhook: where it posts, which body, which notices (those not named are on), whether
    it is on, and the last of the user's events handled for it."""

    id: int
    user_id: int
    url: str
    kind: HookKind
    notices: dict[str, bool]
    enabled: bool
    created_at: datetime
    last_event_id: int


@dataclass(frozen=True, slots=True)
class HookTarget:
    """A hook with its secret as stored (sealed): what a delivery needs."""

    hook: Hook
    secret_enc: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class NewHook:
    """A hook a user asks for: where it posts, which body, which notices (those not named are on)."""

    url: str
    kind: HookKind
    notices: Mapping[str, bool] = field(default_factory=dict)
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class HookChanges:
    """What a PATCH changes (None: unchanged)."""

    url: str | None = None
    kind: HookKind | None = None
    notices: Mapping[str, bool] | None = None  # merged into the hook's
    enabled: bool | None = None


class HookStore(Protocol):
    """Users' outgoing webhooks; every read and change of one hook is scoped to its owner."""

    def add_hook(
        self, user_id: int, request: NewHook, now: datetime, seal: Callable[[int], str], most: int
    ) -> Hook:
        """Keep a new hook, its secret sealed by `seal(hook id)` in the same transaction; its cursor
        starts after the user's last event. Conflict when the user has `most` hooks already."""

    def hooks(self, user_id: int) -> list[Hook]: ...

    def hook(self, user_id: int, hook_id: int) -> HookTarget:
        """NotFound when it is not the user's."""

    def update_hook(self, user_id: int, hook_id: int, changes: HookChanges) -> Hook:
        """Apply `changes`; a hook turned back on starts after the user's last event (no backlog of
        what happened while it was off). NotFound when it is not the user's."""

    def delete_hook(self, user_id: int, hook_id: int) -> None:
        """NotFound when it is not the user's."""

    def deliverable(self) -> list[HookTarget]:
        """Every enabled hook."""

    def advance(self, hook_id: int, last_event_id: int, url: str) -> bool:
        """Move the hook's cursor forward to `last_event_id` (never back); False when it is gone,
        off, or points elsewhere now (`url`): its delivery stops."""

    def sealed_secrets(self) -> list[tuple[int, str]]:
        """Every hook's sealed secret (for key rotation)."""

    def reseal_secret(self, hook_id: int, secret_enc: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Answer:
    """A receiver's answer: its status, its Retry-After header, and the start of its body (for logs)."""

    status: int
    retry_after: str | None = None
    body: str = ""


class Unreachable(Exception):
    """No answer: a timeout, a connection refused or reset, a name that does not resolve. Tried again."""


class AddressRefused(Exception):
    """The address is one the server must not call (private, loopback, …). Not tried again."""


class Poster(Protocol):
    """Makes one POST; raises Unreachable or AddressRefused."""

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Answer: ...

    async def check(self, url: str) -> None:
        """Refuse (AddressRefused) an address not to be called: every address its host resolves to
        must be public, unless the server allows private ones."""
