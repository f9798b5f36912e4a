"""`tradewire keys rotate` re-encrypts AI endpoints' keys, two-factor and webhook secrets too: after it,
the old key can go."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from tests.seeding import now, seed_members
from tradewire.adapters.secrets_box import SecretBox, decode_key, generate_key
from tradewire.adapters.store.ai import SqlAi
from tradewire.adapters.store.db import make_engine, upgrade
from tradewire.adapters.store.members import SqlMembers
from tradewire.adapters.store.two_factor import SqlTwoFactor
from tradewire.adapters.store.webhooks import SqlHooks
from tradewire.domain.webhooks import HookKind
from tradewire.ports.webhooks import NewHook
from tradewire.services.chart_analyst import key_context
from tradewire.services.two_factor import secret_context
from tradewire.services.webhooks.setup import secret_context as hook_context

TRADEWIRE = str(Path(sys.executable).parent / "tradewire")


def test_keys_rotate_re_encrypts_ai_endpoint_keys_and_two_factor_secrets(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    engine = make_engine(f"sqlite:///{var_dir / 'tradewire.db'}")
    upgrade(engine)
    owner = seed_members(SqlMembers(engine), [], slug="keys").provider_id
    old, new = generate_key(), generate_key()
    ai = SqlAi(engine)
    endpoint_id = ai.add_endpoint(owner, "local", "https://ai.example.com/v1", "m", datetime.now(UTC))
    ai.seal_endpoint_key(
        endpoint_id, SecretBox(decode_key(old)).encrypt("sk-secret", key_context(endpoint_id))
    )
    totp = SqlTwoFactor(engine)
    totp.enrol_totp(
        owner, SecretBox(decode_key(old)).encrypt("JBSWY3DPEHPK3PXP", secret_context(owner)), now()
    )

    hooks = SqlHooks(engine)
    old_box = SecretBox(decode_key(old))
    hook = hooks.add_hook(
        owner, NewHook("https://hooks.example.com/x", HookKind.JSON), now(),
        lambda hook_id: old_box.encrypt("whsec_abc", hook_context(hook_id)), 5,
    )  # fmt: skip

    env = {
        **os.environ,
        "TRADEWIRE_VAR_DIR": str(var_dir),
        "TRADEWIRE_CONFIG": str(var_dir / "absent.toml"),
        "TRADEWIRE_ENCRYPTION_KEY": new,
        "TRADEWIRE_ENCRYPTION_OLD_KEYS": f'["{old}"]',
    }
    env.pop("TRADEWIRE_DATABASE_URL", None)
    done = subprocess.run(
        [TRADEWIRE, "keys", "rotate"], capture_output=True, text=True, timeout=120, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "1 AI endpoints re-encrypted" in done.stdout

    ((_, token),) = ai.sealed_endpoint_keys()
    assert SecretBox(decode_key(new)).decrypt(token, key_context(endpoint_id)) == "sk-secret"  # new key only
    # Two-factor secrets are sealed with the same box: before, they were left under the old key, so
    # retiring it locked every two-factor user out.
    assert "1 two-factor secrets re-encrypted" in done.stdout
    ((user_id, sealed),) = totp.sealed_secrets()
    assert SecretBox(decode_key(new)).decrypt(sealed, secret_context(user_id)) == "JBSWY3DPEHPK3PXP"
    assert "1 webhook secrets re-encrypted" in done.stdout
    ((hook_id, sealed_hook),) = hooks.sealed_secrets()
    assert hook_id == hook.id
    assert SecretBox(decode_key(new)).decrypt(sealed_hook, hook_context(hook_id)) == "whsec_abc"
