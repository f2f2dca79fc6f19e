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
    settings = load_settings(
        cfg,
        env={
            "REVOPS_WAREHOUSE__URL": "postgresql://x@h/db",
            "REVOPS_ADS__CHANNEL_MAP__FB": "Facebook",
        },
    )
    assert settings.warehouse_url == "postgresql://x@h/db"
    assert settings.section("ads")["channel_map"] == {
        "G": "Google",
        "FB": "Facebook",
    } or settings.section("ads")["channel_map"] == {"G": "Google", "fb": "Facebook"}


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
    settings = load_settings(
        tmp_path / "none.toml" if False else None,
        env={
            "REVOPS_STRIPE__WEBHOOK_SECRET_FILE": str(secret_file),
            "REVOPS_SLACK__WEBHOOK_URL": "https://hooks.example/x",
        },
    )
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


def test_configuration_reference_shows_the_starter_file():
    from importlib import resources
    from pathlib import Path

    template = resources.files("revops.templates").joinpath("revops.toml").read_text("utf-8")
    doc = (Path(__file__).resolve().parents[1] / "docs" / "configuration.md").read_text("utf-8")
    assert "```toml\n" + template + "```" in doc, (
        "docs/configuration.md is stale: paste src/revops/templates/revops.toml into it"
    )


SECTION_MODELS = {
    "quality": "revops.quality.settings:QualitySettings",
    "notify": "revops.notify.rules:NotifyConfig",
    "serve": "revops.serve.config:ServeConfig",
    "bus": "revops.serve.config:BusConfig",
    "loader": "revops.serve.config:LoaderConfig",
    "pipeline": "revops.pipeline.config:PipelineConfig",
    "schedule": "revops.pipeline.config:ScheduleConfig",
    "kpi": "revops.transform.marketing:KpiSettings",
    "revenue": "revops.transform.settings:RevenueSettings",
    "live": "revops.outputs.live:LiveSettings",
    "reports": "revops.outputs.reports.settings:ReportsSettings",
    "email": "revops.outputs.reports.settings:EmailSettings",
    "dashboard": "revops.outputs.dashboard.access:DashboardSettings",
    "crm": "revops.sources.crm:CrmSettings",
    "sales": "revops.sources.sales:SalesSettings",
    "ads": "revops.sources.ads:AdsSettings",
}


@pytest.mark.parametrize("uncomment", [False, True], ids=["as-written", "every-key-uncommented"])
def test_starter_file_loads_and_every_section_validates(tmp_path, uncomment):
    """The starter file, and the same file with every commented ``key = value`` line enabled,
    validates against each section's model (so the documented keys and values are real)."""
    import importlib
    import re
    from importlib import resources

    text = resources.files("revops.templates").joinpath("revops.toml").read_text("utf-8")
    if uncomment:
        text = re.sub(r"(?m)^# ?([A-Za-z_][A-Za-z0-9_]* = .+)$", r"\1", text)
        text = re.sub(r"(?m)^# ?(\[\[?[a-z_.]+\]\]?)$", r"\1", text)
    path = tmp_path / "revops.toml"
    path.write_text(text)
    settings = load_settings(path, env={})
    for section, target in SECTION_MODELS.items():
        module, name = target.split(":")
        model = getattr(importlib.import_module(module), name)
        settings.model(section, model)
    known = set(SECTION_MODELS) | {"general", "warehouse", "ingest", "publish", "slack"}
    assert set(settings.data) <= known, set(settings.data) - known
