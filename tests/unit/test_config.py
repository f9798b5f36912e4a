"""Settings: safe defaults, the TOML file, the environment on top, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from tradewire.adapters.bus import InProcessBus
from tradewire.adapters.redis_bus import RedisStreamsBus
from tradewire.config import Settings
from tradewire.wiring import build_bus


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("TRADEWIRE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TRADEWIRE_CONFIG", str(tmp_path / "absent.toml"))


def test_defaults_are_safe() -> None:
    settings = Settings()

    assert settings.host == "127.0.0.1"
    assert settings.port == 8000
    assert settings.effective_database_url == "sqlite:///var/tradewire.db"
    assert settings.encryption_key is None
    assert settings.paper_fee_rate == "0.001"


def test_a_toml_file_configures_and_the_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "tradewire.toml"
    config.write_text('port = 9001\nhost = "0.0.0.0"\ndatabase_url = "postgresql://u@db/tw"\n')
    monkeypatch.setenv("TRADEWIRE_CONFIG", str(config))
    monkeypatch.setenv("TRADEWIRE_PORT", "9002")

    settings = Settings()

    assert settings.port == 9002
    assert settings.host == "0.0.0.0"
    assert settings.effective_database_url == "postgresql://u@db/tw"


def test_secrets_are_not_shown_in_the_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADEWIRE_ENCRYPTION_KEY", "c2VjcmV0LWtleS1tYXRlcmlhbC0zMi1ieXRlcy1sb25n")

    settings = Settings()

    assert "c2VjcmV0" not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value"),
    [("TRADEWIRE_PORT", "99999"), ("TRADEWIRE_PAPER_FEE_RATE", "-1"), ("TRADEWIRE_LOG_LEVEL", "LOUD")],
)
def test_bad_values_are_refused_with_the_setting_named(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(ValidationError) as error:
        Settings()

    assert name.removeprefix("TRADEWIRE_").lower() in str(error.value)


def test_the_redis_bus_needs_a_redis_url() -> None:
    with pytest.raises(ValidationError, match="TRADEWIRE_BUS=redis needs TRADEWIRE_REDIS_URL"):
        Settings(bus="redis", redis_url="")
    with pytest.raises(ValidationError):
        Settings(bus="kafka")
    with pytest.raises(ValidationError):
        Settings(bus_prefix="has space")
    assert isinstance(build_bus(Settings()), InProcessBus)  # the default: this process only
    assert isinstance(build_bus(Settings(bus="redis", redis_url="redis://127.0.0.1:6379/0")), RedisStreamsBus)


def test_split_roles_need_the_shared_bus_and_no_telegram_webhook() -> None:
    redis = {"bus": "redis", "redis_url": "redis://127.0.0.1:6379/0"}
    with pytest.raises(ValidationError, match="TRADEWIRE_ROLE=api runs beside other processes"):
        Settings(role="api")
    with pytest.raises(ValidationError, match="TRADEWIRE_ROLE=worker runs beside other processes"):
        Settings(role="worker")
    with pytest.raises(ValidationError, match="leave TRADEWIRE_TELEGRAM_WEBHOOK_URL unset"):
        Settings(
            role="worker", telegram_webhook_url="https://bot.example.com/api/v1/telegram/updates", **redis
        )
    with pytest.raises(ValidationError):
        Settings(role="both", **redis)
    assert Settings().role == "all"
    assert Settings(role="api", **redis).role == "api"


def test_several_active_workers_are_for_workers_on_postgresql() -> None:
    redis = {"bus": "redis", "redis_url": "redis://127.0.0.1:6379/0"}
    postgres = "postgresql+psycopg://tradewire@db/tradewire"
    with pytest.raises(ValidationError, match="for workers"):
        Settings(worker_partitions=8, role="api", database_url=postgres, **redis)
    with pytest.raises(ValidationError, match="need PostgreSQL"):
        Settings(worker_partitions=8, role="worker", **redis)  # SQLite
    with pytest.raises(ValidationError):
        Settings(worker_partitions=5000, role="worker", database_url=postgres, **redis)
    assert Settings(worker_partitions=8, role="worker", database_url=postgres, **redis).worker_partitions == 8
    assert Settings().worker_partitions == 0  # one active worker, the others standing by
