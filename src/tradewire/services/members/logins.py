"""Sign-up and password checks."""

from __future__ import annotations

import asyncio
from dataclasses import KW_ONLY, dataclass, field

from tradewire.domain.members import Forbidden, Invalid, Role, User
from tradewire.domain.signin import PasswordPolicy
from tradewire.ports import Clock, Members, Passwords

# A well-formed hash no password matches: checked against when the username is unknown.
_DUMMY_HASH = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


@dataclass(slots=True, eq=False)
class Logins:
    """Who may sign up and who a username and password belong to."""

    members: Members
    passwords: Passwords
    clock: Clock
    _: KW_ONLY
    signup_enabled: bool
    signup_role: Role = Role.SUBSCRIBER
    password_policy: PasswordPolicy = field(default_factory=PasswordPolicy)

    async def sign_up(self, username: str, password: str) -> User:
        """A new user in `signup_role` (Forbidden when sign-up is off, whatever the name: no answer
        tells which names are taken; Invalid for a password the policy refuses; Conflict when the name
        is taken). An admin changes roles (README, "Roles")."""
        if not self.signup_enabled:
            raise Forbidden("sign-up is disabled on this server")
        await self.check_password(password, username)
        password_hash = await asyncio.to_thread(self.passwords.hash, password)
        now = self.clock.now()
        role = self.signup_role
        user_id = await asyncio.to_thread(self.members.create_user, username, password_hash, now, role)
        return User(user_id, username, password_hash, role)

    async def authenticate(self, username: str, password: str) -> User | None:
        """The user these credentials belong to, or None."""
        user = await asyncio.to_thread(self.members.user_by_name, username)
        if user is None:
            # Spend the same time as a real check so a timing probe cannot tell which usernames exist.
            await asyncio.to_thread(self.passwords.verify, password, _DUMMY_HASH)
            return None
        ok = await asyncio.to_thread(self.passwords.verify, password, user.password_hash)
        return user if ok else None

    async def check_password(self, password: str, username: str) -> None:
        """Invalid (with the reason) when `password` may not be set (PasswordPolicy)."""
        problem = await asyncio.to_thread(self.password_policy.problem, password, username)
        if problem is not None:
            raise Invalid(problem)

    async def user(self, user_id: int) -> User | None:
        return await asyncio.to_thread(self.members.user_by_id, user_id)
