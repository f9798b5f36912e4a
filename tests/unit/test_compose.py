"""compose.yaml, the Dockerfile and .dockerignore, checked without docker (README "Running with Docker
Compose"): the file is valid Compose, every TRADEWIRE_* variable is a setting and each process's
settings load as its command loads them, the commands are `tradewire` commands, the API process and the
workers share one installation (database, Redis, bus prefix, secrets), the secrets are required and
none is written down, and the image is built from what the build context lets in.

compose-spec.json beside this file is the Compose Specification's JSON schema (Apache-2.0), from
github.com/compose-spec/compose-spec, schema/compose-spec.json at a08f8d51 (2025-10-28): the schema
`docker compose` validates a file against after interpolation.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema_rs
import pytest
import typer.main

from tests.compose import (
    COMPOSE,
    DOCKERIGNORE,
    ROOT,
    SECRETS,
    TRADEWIRE_SERVICES,
    MissingVariable,
    dockerfile,
    environment,
    final_stage,
    image_environment,
    interpolate_text,
    load_compose,
    raw_compose,
)
from tradewire.cli import app
from tradewire.config import Settings, load_settings

SCHEMA = json.loads(Path(__file__).with_name("compose-spec.json").read_text())
# TRADEWIRE_* variables read outside Settings.
READ_ELSEWHERE = {"TRADEWIRE_CONFIG"}  # config.py: where the TOML file is
# Every process of one installation must agree on these (README "API processes and workers").
SHARED = (
    "TRADEWIRE_DATABASE_URL",
    "TRADEWIRE_REDIS_URL",
    "TRADEWIRE_BUS",
    "TRADEWIRE_BUS_PREFIX",
    "TRADEWIRE_ENCRYPTION_KEY",
    "TRADEWIRE_JWT_SECRET",
)


@pytest.fixture
def compose() -> dict[str, Any]:
    return load_compose()


def _setting_names() -> set[str]:
    return {f"TRADEWIRE_{name.upper()}" for name in Settings.model_fields}


def _command(argv: list[str]) -> tuple[str, dict[str, Any]]:
    """The `tradewire` command `argv` names and its parsed options, as the CLI parses them (an unknown
    command or option fails)."""
    group = typer.main.get_command(app)
    assert isinstance(group, typer.main.TyperGroup)
    name, *arguments = argv
    assert name in group.commands, f"`tradewire {name}` is not a command: {sorted(group.commands)}"
    context = group.commands[name].make_context(name, list(arguments))
    return name, dict(context.params)


# The Compose file itself.


def test_compose_yaml_is_valid_against_the_compose_specification(compose: dict[str, Any]) -> None:
    validator = jsonschema_rs.Draft7Validator(SCHEMA)

    errors = [f"{list(e.instance_path)}: {e.message}" for e in validator.iter_errors(compose)]

    assert errors == []
    # The schema does refuse a mistake (a misspelt key): the check above can fail.
    compose["services"]["worker"]["stop_grace_periodd"] = "30s"
    assert not validator.is_valid(compose)


def test_every_required_variable_stops_compose_when_unset_or_empty() -> None:
    for name in SECRETS:
        for env in ({k: v for k, v in SECRETS.items() if k != name}, {**SECRETS, name: ""}):
            with pytest.raises(MissingVariable) as refused:
                load_compose(env)
            assert refused.value.name == name
            assert "openssl rand" in str(refused.value)  # it says how to make one


def test_the_secrets_are_required_from_the_environment_never_written_in_the_file() -> None:
    raw = raw_compose()
    for service in TRADEWIRE_SERVICES:
        written = environment(raw["services"][service])
        for name in ("TRADEWIRE_ENCRYPTION_KEY", "TRADEWIRE_JWT_SECRET"):
            assert re.fullmatch(rf"\$\{{{name}:\?[^}}]+\}}", written[name]), written[name]
        assert "${POSTGRES_PASSWORD:?" in written["TRADEWIRE_DATABASE_URL"]
    assert environment(raw["services"]["postgres"])["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    # .env holds them beside compose.yaml: never committed, never sent to the image's builder.
    assert ".env" in (ROOT / ".gitignore").read_text().split()
    assert _ignored(".env")


def test_interpolation_follows_compose() -> None:
    env = {"SET": "x", "EMPTY": ""}

    assert interpolate_text("${SET:-d}${EMPTY:-d}${UNSET:-d}${EMPTY-d}${UNSET-d}", env) == "xddd"
    assert interpolate_text("${SET:+y}${EMPTY:+y}${EMPTY+y}$SET $$SET", env) == "yyx $SET"
    assert interpolate_text("${EMPTY?no}", env) == ""
    with pytest.raises(MissingVariable):
        interpolate_text("${EMPTY:?no}", env)


# The processes: settings, commands, one installation.


def test_every_tradewire_variable_given_to_a_process_is_a_setting(compose: dict[str, Any]) -> None:
    known = _setting_names() | READ_ELSEWHERE
    given = {name for name in image_environment() if name.startswith("TRADEWIRE_")}
    for service in TRADEWIRE_SERVICES:
        given |= {name for name in environment(compose["services"][service]) if name.startswith("TRADEWIRE")}
    referenced = set(re.findall(r"\$\{?(TRADEWIRE_[A-Z0-9_]+)", COMPOSE.read_text()))

    assert given, "no TRADEWIRE_* variable found"
    assert given - known == set()
    assert referenced - known == set()


def test_each_process_loads_its_settings_as_its_command_does(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    services = compose["services"]
    loaded: dict[str, Settings] = {}
    for service in TRADEWIRE_SERVICES:
        with monkeypatch.context() as patch:
            for name in [n for n in os.environ if n.startswith("TRADEWIRE_")]:
                patch.delenv(name)
            patch.setenv("TRADEWIRE_CONFIG", str(tmp_path / "absent.toml"))
            for name, value in {**image_environment(), **environment(services[service])}.items():
                if name.startswith("TRADEWIRE_"):
                    patch.setenv(name, value)
            command, options = _command(services[service]["command"])
            if command == "worker":  # `tradewire worker` loads its settings with role=worker
                loaded[service] = load_settings(role="worker")
            else:  # `tradewire serve` with the options given
                loaded[service] = load_settings(**{k: v for k, v in options.items() if v is not None})

    api, worker = loaded["api"], loaded["worker"]
    assert (api.role, api.bus, api.host) == ("api", "redis", "0.0.0.0")
    assert worker.role == "worker"
    # Every worker active, the accounts spread over partitions: enough of them for the workers started.
    assert worker.worker_partitions >= services["worker"]["deploy"]["replicas"]
    assert worker.effective_database_url.startswith("postgresql://")
    # The port the API listens on is the one published and the one its healthcheck asks.
    published = [str(port).rsplit(":", 1)[-1] for port in services["api"]["ports"]]
    assert published == [str(api.port)]
    probe = " ".join(services["api"]["healthcheck"]["test"])
    assert f"http://127.0.0.1:{api.port}/health" in probe
    # The image keeps its files (the generated JWT secret's folder, SQLite) under its user's home.
    assert str(api.var_dir) == image_environment()["TRADEWIRE_VAR_DIR"]


def test_the_api_and_the_workers_are_one_installation(compose: dict[str, Any]) -> None:
    services = compose["services"]
    api, worker = (environment(services[name]) for name in TRADEWIRE_SERVICES)

    for name in SHARED:
        assert api[name] == worker[name], name
    assert api["TRADEWIRE_ENCRYPTION_KEY"] == SECRETS["TRADEWIRE_ENCRYPTION_KEY"]
    assert api["TRADEWIRE_JWT_SECRET"] == SECRETS["TRADEWIRE_JWT_SECRET"]
    # ... on this file's PostgreSQL (its user, password and database) and Redis.
    database = urlsplit(api["TRADEWIRE_DATABASE_URL"])
    postgres = environment(services["postgres"])
    assert (database.scheme, database.hostname, database.path) == (
        "postgresql",
        "postgres",
        f"/{postgres['POSTGRES_DB']}",
    )
    assert (database.username, database.password) == (
        postgres["POSTGRES_USER"],
        postgres["POSTGRES_PASSWORD"],
    )
    assert urlsplit(api["TRADEWIRE_REDIS_URL"]).hostname == "redis"
    assert set(services) >= {"postgres", "redis", *TRADEWIRE_SERVICES}
    assert services["api"]["build"] == services["worker"]["build"] == "."  # this folder's Dockerfile
    assert not {"image", "pull_policy"} & (set(services["api"]) | set(services["worker"]))


def test_the_processes_wait_for_healthy_services_and_the_workers_scale(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("postgres", "redis"):
        assert services[name]["healthcheck"]["test"], name
    for name in TRADEWIRE_SERVICES:
        assert services[name]["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
        }
    # Durations as Compose parses them (Go's time.ParseDuration; the schema leaves them free text).
    durations = [
        value
        for service in services.values()
        for key, value in {**service.get("healthcheck", {}), **service}.items()
        if key in {"interval", "timeout", "start_period", "start_interval", "stop_grace_period"}
    ]
    assert len(durations) == 8
    for value in durations:
        assert re.fullmatch(r"(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+", value), value
    worker = services["worker"]
    assert worker["deploy"]["replicas"] == 2  # the default; WORKERS=N or --scale worker=N for more
    assert load_compose({**SECRETS, "WORKERS": "4"})["services"]["worker"]["deploy"]["replicas"] == 4
    # Nothing that would clash between replicas.
    assert not {"container_name", "hostname", "ports"} & set(worker)
    # The API is published on this machine only unless told otherwise.
    assert services["api"]["ports"] == ["127.0.0.1:8000:8000"]


def test_the_commands_are_tradewire_commands(compose: dict[str, Any]) -> None:
    for service in TRADEWIRE_SERVICES:
        _command(compose["services"][service]["command"])
    assert _command(["serve", "--host", "0.0.0.0", "--port", "8000"])[1] == {"host": "0.0.0.0", "port": 8000}
    with pytest.raises(Exception, match="No such option: --hots"):
        _command(["serve", "--hots", "0.0.0.0"])  # the check above can fail
    stage = dict(final_stage())
    assert json.loads(stage["ENTRYPOINT"]) == ["tradewire"]
    _command(json.loads(stage["CMD"]))
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["tradewire"] == "tradewire.cli:app"


# The image.


def test_the_image_runs_tradewire_as_a_user_of_its_own_on_python_3_11_slim() -> None:
    instructions = dockerfile()
    arguments = dict(
        argument.split("=", 1) for keyword, argument in instructions if keyword == "ARG" and "=" in argument
    )
    base = final_stage()[0][1]
    assert arguments[base.strip("${}")] == "python:3.11-slim"
    users = [argument for keyword, argument in final_stage() if keyword == "USER"]
    assert users and users[-1] not in {"root", "0"} and not users[-1].startswith(("root:", "0:"))
    runs = " ".join(argument for keyword, argument in instructions if keyword == "RUN")
    # ... the user and group the image makes (numeric, so that a host or Kubernetes sees no root).
    assert users[-1] == "10001:10001"
    assert re.search(r"groupadd --system --gid 10001 tradewire\b", runs)
    assert re.search(r"useradd --system --uid 10001 --gid tradewire\b.* tradewire\b", runs)


def test_the_image_installs_the_package_and_its_chart_library_as_make_install_does() -> None:
    instructions = dockerfile()
    makefile = (ROOT / "Makefile").read_text()
    vendor = re.search(r"^VENDOR\s*:=\s*(\S+)", makefile, re.MULTILINE)
    copied = re.search(r"cp web/(node_modules/\S+) \\\s*\n\s*\$\(VENDOR\)/(\S+) ", makefile)
    assert vendor and copied, "the Makefile no longer copies the chart library as this test expects"
    # The web stage runs npm ci from the lockfile, as `make web`, and the same file lands in the package.
    copies = [argument for keyword, argument in instructions if keyword == "COPY"]
    assert "web/package.json web/package-lock.json ./" in copies
    assert ("RUN", "npm ci --no-audit --no-fund --loglevel=error") in instructions
    assert f"--from=web /web/{copied[1]} {vendor[1]}/{copied[2]}" in copies
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "web/vendor/*.mjs" in package_data["tradewire"]
    # Installed from pyproject.toml, not editable: its dependencies first (a layer of their own).
    runs = [argument for keyword, argument in instructions if keyword == "RUN"]
    requirements = next(run for run in runs if "requirements.txt" in run and "tomllib" in run)
    script = shlex.split(requirements)[shlex.split(requirements).index("-c") + 1]
    listed = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert [line for line in listed if line] == tomllib.loads((ROOT / "pyproject.toml").read_text())[
        "project"
    ]["dependencies"]
    install = next(run for run in runs if "pip install --quiet --no-deps ." in run)
    assert " -e " not in install and "[dev]" not in install


def test_the_build_context_holds_the_sources_and_no_secret() -> None:
    sources = [
        argument.split()[:-1]
        for keyword, argument in dockerfile()
        if keyword == "COPY" and "--from" not in argument
    ]
    for path in [p for paths in sources for p in paths]:
        assert (ROOT / path).exists(), path
        assert not _ignored(path), path
    for path in (ROOT / "src").rglob("*"):
        relative = path.relative_to(ROOT).as_posix()
        built = ("__pycache__", ".egg-info/", "/web/vendor/")  # made by make install, built in the image
        if path.is_file() and not any(part in relative for part in built):
            assert not _ignored(relative), relative
    for path in (
        ".env",
        ".venv/bin/python",
        "var/tradewire.db",
        "var/jwt.secret",
        ".git/config",
        "tradewire.toml",
        "tests/conftest.py",
        "web/node_modules/lightweight-charts/package.json",
        "src/tradewire/web/vendor/lightweight-charts.mjs",
        "src/tradewire/__pycache__/config.cpython-311.pyc",
        "src/tradewire.egg-info/PKG-INFO",
    ):
        assert _ignored(path), path


def _ignored(path: str) -> bool:
    """Whether .dockerignore keeps `path` out of the build context: the last pattern matching it, or
    one of its folders, decides (`!` lets it in)."""
    lines = [line.strip() for line in DOCKERIGNORE.read_text().splitlines()]
    ignored = False
    for line in (line for line in lines if line and not line.startswith("#")):
        negated = line.startswith("!")
        pattern = re.escape(line.removeprefix("!").strip("/"))
        pattern = pattern.replace(r"\*\*/", "(?:.*/)?").replace(r"\*\*", ".*")
        pattern = pattern.replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        parts = path.split("/")
        if any(re.fullmatch(pattern, "/".join(parts[:i])) for i in range(1, len(parts) + 1)):
            ignored = not negated
    return ignored
