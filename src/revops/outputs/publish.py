"""Publishing the marketing marts to a separate marketing data warehouse.

The seed loads its KPIs into a marketing DWH on PostgreSQL. With ``[publish] url`` set, revops
copies the marts of one date there: one transaction per date on the target, replacing that
date's rows, with the tables created on first use. The password comes from
``REVOPS_PUBLISH__PASSWORD`` (or ``…_FILE``), never from the config file.
"""

from __future__ import annotations

import re
from datetime import date
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, field_validator

from revops.audit import audit
from revops.errors import ConfigError, RevopsError
from revops.transform.marketing import CHANNEL_COLUMNS, SUMMARY_COLUMNS, read_kpis
from revops.warehouse.base import redact_url
from revops.warehouse.sql import quote_ident

if TYPE_CHECKING:
    from revops.config import Settings
    from revops.warehouse.base import Warehouse

PUBLISH_LOCK = "revops.publish.marketing"
_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class PublishSettings(BaseModel):
    """The ``[publish]`` section: where the marketing marts are copied to."""

    model_config = ConfigDict(extra="ignore")

    url: str | None = None
    schema_name: str = "public"

    @field_validator("schema_name")
    @classmethod
    def _plain_identifier(cls, value: str) -> str:
        if not _SCHEMA_NAME.match(value):
            raise ValueError("must be a plain SQL identifier (letters, digits, underscore)")
        return value


def publish_settings(settings: Settings) -> PublishSettings:
    """``[publish]`` validated; the key ``schema`` is read as the target schema name."""
    section = dict(settings.section("publish"))
    if "schema" in section:
        section["schema_name"] = section.pop("schema")
    try:
        return PublishSettings.model_validate(section)
    except ValueError as exc:
        raise ConfigError(
            f"invalid settings in [publish]: {exc}",
            where="[publish]",
            hint="schema takes a plain identifier such as public",
        ) from exc


def publish_marts(settings: Settings, wh: Warehouse, day: date) -> int:
    """Copy both marketing marts of run date ``day`` to ``[publish] url``; return rows written.

    A no-op returning 0 when ``[publish] url`` is unset. On the target, one transaction
    replaces the date's rows of both tables (created on first use), so a rerun gives the same
    rows and a target reader never sees half a day. Raises :class:`RevopsError` when the date
    has not been computed. Audited in the source warehouse.
    """
    conf = publish_settings(settings)
    if not conf.url:
        return 0
    result = read_kpis(wh, day)
    if not result.computed:
        raise RevopsError(
            f"no marketing KPIs stored for {result.date.isoformat()} (run date {day})",
            where="revops.mart_daily_summary",
            hint=f"compute them first: revops kpi --date {day.isoformat()}",
        )
    target_url = redact_url(conf.url)
    try:
        written = _write_target(settings, conf, result.date, result.channels, result.summary)
    except Exception as exc:
        audit(
            wh,
            "marketing_marts",
            "publish",
            "failed",
            detail={
                "date": result.date.isoformat(),
                "target": target_url,
                "error": type(exc).__name__,
            },
        )
        raise
    audit(
        wh,
        "marketing_marts",
        "publish",
        "ok",
        detail={"date": result.date.isoformat(), "target": target_url, "rows": written},
    )
    return written


def _write_target(
    settings: Settings,
    conf: PublishSettings,
    mart_date: date,
    channels: list[dict[str, Any]],
    summary: dict[str, Any] | None,
) -> int:
    from revops.warehouse import connect

    schema = quote_ident(conf.schema_name)
    target = connect(str(conf.url), password=settings.secret("publish", "password"))
    try:
        with target.transaction(lock=PUBLISH_LOCK):
            target.execute(target_ddl(schema))
            target.execute(f"DELETE FROM {schema}.mart_channel_kpi WHERE date = ?", (mart_date,))
            target.execute(f"DELETE FROM {schema}.mart_daily_summary WHERE date = ?", (mart_date,))
            n = target.insert_rows(
                f"{schema}.mart_channel_kpi",
                CHANNEL_COLUMNS,
                [tuple(r[c] for c in CHANNEL_COLUMNS) for r in channels],
            )
            if summary is not None:
                n += target.insert_rows(
                    f"{schema}.mart_daily_summary",
                    SUMMARY_COLUMNS,
                    [tuple(summary[c] for c in SUMMARY_COLUMNS)],
                )
    finally:
        target.close()
    return n


def target_ddl(schema: str) -> str:
    """Tables of the marketing DWH in ``schema`` (already quoted), created when missing."""
    return f"""
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.mart_channel_kpi (
    date DATE NOT NULL,
    period_start DATE NOT NULL,
    period_end DATE NOT NULL,
    channel VARCHAR NOT NULL,
    impressions BIGINT,
    clicks BIGINT,
    ad_cost DECIMAL(38, 6),
    conversions BIGINT,
    new_customers BIGINT,
    total_ltv DECIMAL(38, 6),
    period_revenue DECIMAL(38, 6),
    cac DOUBLE,
    avg_ltv DOUBLE,
    roas DOUBLE,
    cvr DOUBLE,
    ctr DOUBLE,
    ltv_cac_ratio DOUBLE,
    PRIMARY KEY (date, channel)
);
CREATE TABLE IF NOT EXISTS {schema}.mart_daily_summary (
    date DATE NOT NULL PRIMARY KEY,
    period_start DATE NOT NULL,
    period_end DATE NOT NULL,
    total_ad_cost DECIMAL(38, 6),
    total_revenue DECIMAL(38, 6),
    total_customers BIGINT,
    overall_cac DOUBLE,
    overall_roas DOUBLE,
    avg_cvr DOUBLE,
    best_channel VARCHAR,
    best_channel_roas DOUBLE
);
"""
