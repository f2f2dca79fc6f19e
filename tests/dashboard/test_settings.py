"""The ``[dashboard]`` and ``[live]`` sections: the shipped template is valid, typos are errors,
and secrets never show."""

from __future__ import annotations

from importlib import resources

import pytest

from revops.config import Settings, load_settings
from revops.errors import ConfigError
from revops.outputs.dashboard.access import Access, DashboardSettings
from revops.outputs.live import LiveSettings, hub_from_settings


def test_the_template_sections_are_valid(tmp_path) -> None:
    template = resources.files("revops").joinpath("templates", "revops.toml").read_text("utf-8")
    path = tmp_path / "revops.toml"
    path.write_text(template, encoding="utf-8")
    settings = load_settings(path, env={})
    assert settings.model("dashboard", DashboardSettings).locale == "ja-JP"
    live = settings.model("live", LiveSettings)
    assert live.channel == "revops:live"
    hub = hub_from_settings(settings)
    try:
        assert not hub.redis_enabled  # an empty redis_url means in-process
    finally:
        hub.close()


def test_a_misspelt_key_is_a_config_error() -> None:
    settings = Settings(data={"dashboard": {"locle": "en-US"}}, env={})
    with pytest.raises(ConfigError, match=r"dashboard\.locle"):
        settings.model("dashboard", DashboardSettings)


def test_credentials_come_from_the_environment_and_never_show() -> None:
    env = {"REVOPS_DASHBOARD__TOKEN": "tok-123", "REVOPS_DASHBOARD__PASSWORD": "pw-456"}
    access = Access.from_settings(Settings(data={"dashboard": {"user": "ops"}}, env=env))
    assert access.enabled and access.user == "ops"
    assert "tok-123" not in repr(access) and "pw-456" not in repr(access)
    assert "tok-123" not in access.cookie_value()


def test_without_the_extra_install_adds_nothing_and_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from fastapi import FastAPI

    import revops.outputs.dashboard as dashboard
    from dashboard.harness import Runtime

    monkeypatch.setattr(dashboard, "REQUIRES", ("fastapi", "no_such_module_for_test"))
    app = FastAPI()
    before = len(app.routes)
    dashboard.install(app, Runtime(settings=Settings(data={}, env={}), warehouse=None))  # type: ignore[arg-type]
    assert len(app.routes) == before
    assert "pip install 'revops[dashboard]'" in caplog.text
