"""Property-based fuzz of the whole OpenAPI schema (schemathesis), on SQLite and PostgreSQL.

Every operation gets generated requests, valid ones (positive) and ones the schema forbids
(negative), sent to the ASGI app in process (its lifespan running: trading loop, monitor, ...),
signed in as a user who owns one of everything, half the time with that user's real ids in the path
so requests reach real code. No request may answer 5xx (or crash the app); every answer, to valid
and invalid requests alike, must have a status code documented for its operation and a body matching
the schema documented for that status. The seed is fixed (derandomised) and the case
count bounded, so a run is repeatable and takes about a minute per database.
"""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance
from sqlalchemy import Engine

from tests.e2e.owned import Owned, seed_user
from tests.support import make_runtime
from tradewire.api.app import create_app
from tradewire.domain.members import Role

pytestmark = pytest.mark.slow

EXAMPLES = 25  # per operation and mode: ~80 operations x 2 modes x 25, 1-2 minutes per database


def _real_ids(owner: Owned, other: Owned) -> dict[str, Any]:
    return {
        "strategy_id": owner.strategy_id,
        "account_id": owner.account_id,
        "subscription_id": owner.subscription_id,
        "bot_id": owner.bot_id,
        "position_id": owner.position_id,
        "intent_id": owner.intent_id,
        "hook_id": owner.hook_id,
        "backtest_id": owner.backtest_id,
        "slug": f"{owner.username}-private",
        "user_id": other.user_id,  # the admin endpoints act on someone else (the owner is an admin)
    }


def _fuzz(operation: Any, mode: GenerationMode, client: Any, real: dict[str, Any], found: list[str]) -> None:
    """Send EXAMPLES generated cases of one operation; record every 5xx, crash, undocumented status
    or body that does not match the schema documented for its status."""

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @given(case=operation.as_strategy(generation_mode=mode), use_real=st.booleans())
    def run(case: Any, use_real: bool) -> None:
        if use_real and case.path_parameters:
            case.path_parameters = {
                name: real.get(name, value) for name, value in case.path_parameters.items()
            }
        label = f"{mode.value} {case.method} {case.formatted_path}"
        try:
            response = case.call(session=client)
        except Exception as exc:
            found.append(f"{label}: the app raised {type(exc).__name__}: {exc}\n{_curl(case)}")
            return
        if response.status_code >= 500:
            found.append(f"{label}: {response.status_code} {response.text[:300]}\n{_curl(case)}")
            return
        try:
            case.validate_response(response, checks=[status_code_conformance, response_schema_conformance])
        except (Exception, BaseExceptionGroup) as exc:  # schemathesis: a failure (group)
            reason = "".join(traceback.format_exception_only(exc))[:400]
            found.append(f"{label}: {response.status_code} is not the documented answer: {reason}")

    try:
        run()
    except Unsatisfiable:
        assert mode is GenerationMode.NEGATIVE, f"no valid request for {operation.label}"  # nothing to negate


def _curl(case: Any) -> str:
    try:
        return "    " + str(case.as_curl_command())[:600]
    except Exception:
        return "    (no curl command)"


def test_no_request_makes_the_server_fail(engine: Engine, tmp_path: Path) -> None:
    url = engine.url.render_as_string(hide_password=False)
    runtime = make_runtime(tmp_path, url, allow_private_exchange_urls=False)
    owner = seed_user(runtime, "alice", Role.ADMIN)  # the admin endpoints too
    other = seed_user(runtime, "bob")  # someone else's objects exist too
    app = create_app(runtime)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    real = _real_ids(owner, other)
    found: list[str] = []
    client = asgi.get_client(app)
    client.headers.update(owner.headers)
    try:
        with client:
            operations = [result.ok() for result in schema.get_all_operations()]
            # Signing out ends the session the other cases are sent in: fuzz it last.
            for operation in sorted(operations, key=lambda op: op.path == "/api/v1/auth/logout"):
                for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                    _fuzz(operation, mode, client, real, found)
    finally:
        asgi.shutdown_lifespans()
        runtime.engine.dispose()
    assert not found, f"{len(found)} failing cases:\n" + "\n".join(found[:40])
