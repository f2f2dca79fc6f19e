"""Settings: file, env overrides, secrets only from env or files."""

from __future__ import annotations

import pytest

from revops.config import load_settings
from revops.errors import ConfigError


def test_defaults_without_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(env={})
    assert settings.warehouse_url == "duckdb:///revops.duckdb"
    assert settings.timezone.key == "Asia/Tokyo"
    assert settings.path is None


def test_env_overrides_file_values(tmp_path):
    cfg = tmp_path / "revops.toml"
    cfg.write_text('[warehouse]\nurl = "duckdb:///a.duckdb"\n[ads.channel_map]\nG = "Google"\n')
    settings = load_settings(cfg, env={"REVOPS_WAREHOUSE__URL": "postgresql://x@h/db",
                                       "REVOPS_ADS__CHANNEL_MAP__FB": "Facebook"})
    assert settings.warehouse_url == "postgresql://x@h/db"
    assert settings.section("ads")["channel_map"] == {"G": "Google", "FB": "Facebook"} or \
        settings.section("ads")["channel_map"] == {"G": "Google", "fb": "Facebook"}


def test_secret_in_file_is_refused_with_the_variable_to_use(tmp_path):
    cfg = tmp_path / "revops.toml"
    cfg.write_text('[stripe]\nwebhook_secret = "whsec_x"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(cfg, env={})
    assert "REVOPS_STRIPE__WEBHOOK_SECRET" in str(info.value)
    assert "whsec_x" not in str(info.value)


def test_secret_from_env_or_file(tmp_path):
    secret_file = tmp_path / "s"
    secret_file.write_text("from-file\n")
    settings = load_settings(tmp_path / "none.toml" if False else None,
                             env={"REVOPS_STRIPE__WEBHOOK_SECRET_FILE": str(secret_file),
                                  "REVOPS_SLACK__WEBHOOK_URL": "https://hooks.example/x"})
    assert settings.secret("stripe", "webhook_secret") == "from-file"
    assert settings.secret("slack", "webhook_url") == "https://hooks.example/x"
    assert "slack" not in settings.data  # secrets never land in the settings data
    with pytest.raises(ConfigError, match="REVOPS_EVENTS__WEBHOOK_SECRET"):
        settings.require_secret("events", "webhook_secret", "POST /events")


def test_explicit_missing_file_and_bad_toml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "missing.toml", env={})
    bad = tmp_path / "bad.toml"
    bad.write_text("[warehouse\nurl=1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(bad, env={})


def test_bad_timezone_names_the_setting():
    settings = load_settings(None, env={"REVOPS_GENERAL__TIMEZONE": "Mars/Olympus"})
    with pytest.raises(ConfigError, match=r"\[general\] timezone"):
        _ = settings.timezone
