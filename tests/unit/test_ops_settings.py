"""Settings of the operations features: CORS origins from the environment, safe defaults."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from tradewire.config import Settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("TRADEWIRE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TRADEWIRE_CONFIG", str(tmp_path / "absent.toml"))


def test_defaults_are_closed() -> None:
    settings = Settings()

    assert settings.cors_origins == []
    assert settings.metrics_token is None
    assert settings.hsts_max_age_s == 0
    assert settings.docs_enabled is True
    assert settings.effective_backup_dir == Path("var/backups")
    assert settings.backup_keep == 7


@pytest.mark.parametrize(
    ("value", "origins"),
    [
        ("https://app.example.com", ["https://app.example.com"]),
        (" https://a.example , http://localhost:3000/ ", ["https://a.example", "http://localhost:3000"]),
        ('["https://a.example", "https://b.example:8443"]', ["https://a.example", "https://b.example:8443"]),
        ("", []),
    ],
)
def test_cors_origins_are_read_comma_separated_or_as_json(
    monkeypatch: pytest.MonkeyPatch, value: str, origins: list[str]
) -> None:
    monkeypatch.setenv("TRADEWIRE_CORS_ORIGINS", value)

    assert Settings().cors_origins == origins


@pytest.mark.parametrize("value", ["app.example.com", "https://app.example.com/path", "ftp://x.example"])
def test_an_origin_that_is_not_scheme_host_port_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("TRADEWIRE_CORS_ORIGINS", value)

    with pytest.raises(ValidationError, match="cors_origins"):
        Settings()


def test_the_metrics_token_is_not_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADEWIRE_METRICS_TOKEN", "scrape-secret")

    settings = Settings()

    assert "scrape-secret" not in repr(settings)
    assert settings.metrics_token is not None and settings.metrics_token.get_secret_value() == "scrape-secret"
