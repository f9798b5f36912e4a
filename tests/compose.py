"""compose.yaml and the Dockerfile read the way Docker reads them, for tests that need no docker
(tests/unit/test_compose.py, tests/e2e/test_compose_processes.py).

`load_compose` parses compose.yaml (YAML merge keys and all) and interpolates `${...}` as Compose does:
`${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`, `${VAR:+other}`,
`${VAR+other}`, `$VAR` and `$$`. A required variable that is unset (or empty, with `:`) raises
MissingVariable, as `docker compose` refuses to start.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

# The services that run the tradewire image.
TRADEWIRE_SERVICES = ("api", "worker")
# Values for the variables compose.yaml requires: made up for the tests, in the forms the file asks for.
SECRETS = {
    "POSTGRES_PASSWORD": "0123456789abcdef0123456789abcdef",
    "TRADEWIRE_ENCRYPTION_KEY": "5f" * 32,
    "TRADEWIRE_JWT_SECRET": "compose-test-jwt-secret-0123456789abcdef",
}


class MissingVariable(ValueError):
    """A `${VAR:?error}` or `${VAR?error}` whose variable is not set."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name


_REFERENCE = re.compile(r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<named>[A-Za-z_][A-Za-z0-9_]*))")
_BRACED = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<argument>.*))?", re.DOTALL)


def interpolate_text(text: str, env: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        if match["named"]:
            return env.get(match["named"], "")
        braced = _BRACED.fullmatch(match["braced"])
        if braced is None:
            raise ValueError(f"not an interpolation Compose understands: {match[0]!r}")
        name, op, argument = braced["name"], braced["op"], braced["argument"]
        value = env.get(name)
        if op is None:
            return value or ""
        unset = value is None or (op.startswith(":") and value == "")
        if op.endswith("-"):
            return argument if unset else str(value)
        if op.endswith("?"):
            if unset:
                raise MissingVariable(name, argument)
            return str(value)
        return "" if unset else argument  # "+"

    return _REFERENCE.sub(replace, text)


def interpolate(node: Any, env: Mapping[str, str]) -> Any:
    """Every string value under `node` interpolated (keys are not, as in Compose)."""
    if isinstance(node, str):
        return interpolate_text(node, env)
    if isinstance(node, dict):
        return {key: interpolate(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate(item, env) for item in node]
    return node


def raw_compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(loaded, dict)
    return loaded


def load_compose(env: Mapping[str, str] = SECRETS) -> dict[str, Any]:
    """compose.yaml as `docker compose config` sees it with `env` as the environment and .env."""
    resolved: dict[str, Any] = interpolate(raw_compose(), env)
    for service in resolved["services"].values():  # Compose casts what it interpolated into numbers
        deploy = service.get("deploy", {})
        if "replicas" in deploy:
            deploy["replicas"] = int(deploy["replicas"])
    return resolved


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    """A service's environment as its container gets it (a mapping or a list of NAME=value)."""
    listed = service.get("environment", {})
    if isinstance(listed, list):
        listed = dict(item.split("=", 1) for item in listed)
    return {name: "" if value is None else str(value) for name, value in listed.items()}


def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions, (INSTRUCTION, arguments), continuation lines joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        part = stripped.removesuffix("\\").strip()
        pending = f"{pending} {part}" if pending else part
        if stripped.endswith("\\"):
            continue
        keyword, _, arguments = pending.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return instructions


def final_stage() -> list[tuple[str, str]]:
    """The instructions of the image's last stage (after the last FROM)."""
    instructions = dockerfile()
    last = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last:]


def image_environment() -> dict[str, str]:
    """The ENV of the image's last stage."""
    found: dict[str, str] = {}
    for keyword, arguments in final_stage():
        if keyword == "ENV":
            for pair in shlex.split(arguments):
                name, sep, value = pair.partition("=")
                assert sep, f"ENV {name} without '=': write ENV NAME=value"
                found[name] = value
    return found
