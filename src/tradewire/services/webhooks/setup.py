"""What a user sets up for outgoing webhooks: endpoints (at most a few each), their body kind and
notices, and a test message. The signing secret is made here, shown once and kept sealed."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tradewire.domain.members import Forbidden, Invalid
from tradewire.domain.webhooks import (
    Verdict,
    body_of,
    headers_of,
    new_secret,
    trial_message,
    url_problem,
    verdict_of,
)
from tradewire.ports import Clock
from tradewire.ports.two_factor import SecretSealer
from tradewire.ports.webhooks import (
    AddressRefused,
    Hook,
    HookChanges,
    HookStore,
    NewHook,
    Poster,
    Unreachable,
)


def secret_context(hook_id: int) -> str:
    """What a hook's sealed secret is bound to."""
    return f"webhook:{hook_id}:secret"


@dataclass(frozen=True, slots=True)
class Created:
    """A new hook and its secret (shown this once)."""

    hook: Hook
    secret: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class TrialResult:
    """What a test message got: delivered (2xx) or not, the status when there was an answer, why."""

    delivered: bool
    status: int | None
    detail: str


@dataclass(slots=True, eq=False)
class HookSetup:
    store: HookStore
    sealer: SecretSealer | None  # None: the server has no encryption key, and no webhooks
    poster: Poster
    clock: Clock
    allow_http: bool = False  # TRADEWIRE_WEBHOOKS_ALLOW_PRIVATE
    most: int = 5  # hooks per user

    async def _check(self, url: str) -> None:
        problem = url_problem(url, self.allow_http)
        if problem is not None:
            raise Invalid(f"url: {problem}")
        try:
            await self.poster.check(url)
        except AddressRefused as exc:
            raise Invalid(f"url: {exc}") from None

    async def add(self, user_id: int, request: NewHook) -> Created:
        """Keep a hook with a new secret sealed (Forbidden without an encryption key on the server,
        Invalid for an address it must not call, Conflict beyond `most`)."""
        sealer = self.sealer
        if sealer is None:
            raise Forbidden("webhooks need TRADEWIRE_ENCRYPTION_KEY on the server to encrypt their secrets")
        await self._check(request.url)
        secret = new_secret()
        hook = await asyncio.to_thread(
            self.store.add_hook,
            user_id,
            request,
            self.clock.now(),
            lambda hook_id: sealer.encrypt(secret, secret_context(hook_id)),
            self.most,
        )
        return Created(hook, secret)

    async def hooks(self, user_id: int) -> list[Hook]:
        return await asyncio.to_thread(self.store.hooks, user_id)

    async def change(self, user_id: int, hook_id: int, changes: HookChanges) -> Hook:
        await asyncio.to_thread(self.store.hook, user_id, hook_id)  # NotFound before the URL is looked up
        if changes.url is not None:
            await self._check(changes.url)
        return await asyncio.to_thread(self.store.update_hook, user_id, hook_id, changes)

    async def delete(self, user_id: int, hook_id: int) -> None:
        await asyncio.to_thread(self.store.delete_hook, user_id, hook_id)

    async def trial(self, user_id: int, hook_id: int) -> TrialResult:
        """Send the hook a test message now, once (no retries), signed like every other."""
        target = await asyncio.to_thread(self.store.hook, user_id, hook_id)
        problem = url_problem(target.hook.url, self.allow_http)
        if problem is not None:
            return TrialResult(False, None, f"url: {problem}")
        if self.sealer is None:
            return TrialResult(False, None, "the server has no encryption key to read the secret with")
        try:
            secret = self.sealer.decrypt(target.secret_enc, secret_context(hook_id))
        except ValueError:
            return TrialResult(False, None, "the hook's secret cannot be read with the server's keys")
        now = datetime.now(UTC)
        body = body_of(target.hook.kind, trial_message(now.isoformat()))
        headers = headers_of(secret, body, f"test-{hook_id}-{time.time_ns()}", int(now.timestamp()))
        try:
            answer = await self.poster.post(target.hook.url, body, headers)
        except (Unreachable, AddressRefused) as exc:
            return TrialResult(False, None, str(exc))
        verdict = verdict_of(answer.status)
        detail = "delivered" if verdict is Verdict.DONE else f"answered {answer.status}: {answer.body}"
        return TrialResult(verdict is Verdict.DONE, answer.status, detail.strip())
