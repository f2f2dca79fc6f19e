"""Ads extractor: one day of the ads reporting API → that day's slice of ``raw_ads``.

Every page is fetched first (:mod:`revops.sources.ads_http`); only then, in ONE transaction, is
the date's slice deleted and the new rows written, so a failed extraction leaves the previous
slice untouched. Each campaign record is validated (types, non-negative counts, the asked-for
date); an invalid one goes to ``dead_letters`` (source ``ads``) and is counted as rejected; a
campaign the API sent twice (pages shifting under the reader) is kept once and counted as
skipped. The channel is the record's ``channel``, else the longest matching campaign-id prefix
in ``[ads.channel_map]``, else ``[ads] default_channel``, else ``Unknown`` (KPI.md).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import httpx
import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from revops.audit import audit
from revops.errors import ConfigError, RevopsError, TerminalSourceError
from revops.ingest.dead_letters import dead_letter_many
from revops.sources.ads_http import AdsClient, ClientCredentialsAuth, StaticTokenAuth
from revops.sources.extract import ExtractReport

if TYPE_CHECKING:
    from revops.config import Settings
    from revops.warehouse.base import Warehouse

Progress = Callable[[int, int], None]
RAW_ADS_COLUMNS = (
    "date",
    "campaign_id",
    "campaign_name",
    "channel",
    "impressions",
    "clicks",
    "cost",
    "conversions",
    "loaded_at",
)


class AdsSettings(BaseModel):
    """``[ads]``: the reporting API and how hard to push it."""

    base_url: str | None = None
    token_url: str | None = None
    client_id: str | None = None
    per_page: int = Field(default=50, ge=1, le=1000)
    rate_limit_per_minute: int = Field(default=100, ge=0)
    max_retries: int = Field(default=3, ge=0)
    max_rate_limit_waits: int = Field(default=10, ge=0)
    timeout_s: float = Field(default=30.0, gt=0)
    backoff_floor_s: float = Field(default=1.0, ge=0)
    backoff_max_s: float = Field(default=60.0, ge=0)
    retry_after_max_s: float = Field(default=300.0, ge=0)
    token_leeway_s: float = Field(default=60.0, ge=0)
    max_pages: int = Field(default=10_000, ge=1)
    default_channel: str | None = None
    channel_map: dict[str, str] = Field(default_factory=dict)


class AdsCampaign(BaseModel):
    """One campaign record of the report, as validated."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    campaign_id: str = Field(min_length=1)
    date: date
    impressions: int = Field(ge=0)
    clicks: int = Field(ge=0)
    cost: Decimal = Field(ge=0, allow_inf_nan=False)
    conversions: int = Field(ge=0)
    campaign_name: str | None = None
    channel: str | None = None

    @field_validator("campaign_id", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value


def channel_for(record: AdsCampaign, cfg: AdsSettings) -> str:
    """The record's channel per KPI.md."""
    if record.channel:
        return record.channel
    best = max(
        (p for p in cfg.channel_map if record.campaign_id.startswith(p)), key=len, default=None
    )
    if best is not None:
        return cfg.channel_map[best]
    return cfg.default_channel or "Unknown"


def ads_auth(settings: Settings, cfg: AdsSettings) -> httpx.Auth:
    """Client credentials when ``token_url`` is set, else the static token."""
    if cfg.token_url:
        if not cfg.client_id:
            raise ConfigError(
                "OAuth2 client credentials need a client id",
                where="[ads] client_id / REVOPS_ADS__CLIENT_ID",
                hint="set the client id, or drop token_url and set REVOPS_ADS__TOKEN",
            )
        secret = settings.require_secret("ads", "client_secret", "the ads API (client credentials)")
        return ClientCredentialsAuth(
            cfg.token_url,
            cfg.client_id,
            secret,
            leeway_s=cfg.token_leeway_s,
            timeout_s=cfg.timeout_s,
        )
    token = settings.secret("ads", "token")
    if not token:
        raise ConfigError(
            "the ads API needs credentials",
            where="[ads] token_url + REVOPS_ADS__CLIENT_ID / "
            "REVOPS_ADS__CLIENT_SECRET, or REVOPS_ADS__TOKEN",
            hint="set token_url and the client id and secret, or a static token",
        )
    return StaticTokenAuth(token)


def extract_ads(
    wh: Warehouse,
    settings: Settings,
    day: date,
    *,
    allow_empty: bool = False,
    progress: Progress | None = None,
    client: AdsClient | None = None,
) -> ExtractReport:
    """Replace ``raw_ads`` rows of ``day`` with the API's report for that day.

    Transactional and idempotent: the slice is replaced in one transaction after every page
    was read. No rows is a :class:`TerminalSourceError` unless ``allow_empty``. ``progress``
    is called with (pages read, records read) after each page. Writes an audit row
    (``ads`` / ``extract``), also on failure.
    """
    cfg = settings.model("ads", AdsSettings)
    report = ExtractReport(source="ads", slice=day.isoformat())
    started = time.perf_counter()
    try:
        own = client is None
        client = client or AdsClient(cfg, ads_auth(settings, cfg))
        try:
            records = _fetch(client, day, progress)
        finally:
            if own:
                client.close()
        report.inputs.append(f"{cfg.base_url} ({client.requests} requests)")
        rows, letters = _validate(records, day, cfg, report)
        if not rows and not allow_empty:
            raise TerminalSourceError(
                f"the ads API returned no campaigns for {day}"
                + (f" ({report.rejected} invalid)" if report.rejected else ""),
                input=f"{cfg.base_url}/v1/reports?date={day}",
                hint="check the date (ads settle a day late), or pass --allow-empty",
            )
        with wh.transaction(lock="extract:ads"):
            wh.execute("DELETE FROM revops.raw_ads WHERE date = ?", (day,))
            report.loaded = wh.insert_rows("revops.raw_ads", RAW_ADS_COLUMNS, rows)
            dead_letter_many(wh, letters)
            report.tables["raw_ads"] = report.loaded
            report.seconds = round(time.perf_counter() - started, 3)
            audit(wh, "ads", "extract", "ok", detail=report.as_dict())
    except RevopsError as exc:
        _audit_failure(wh, report, exc)
        raise
    return report


def _fetch(client: AdsClient, day: date, progress: Progress | None) -> list[tuple[int, Any]]:
    records: list[tuple[int, Any]] = []
    for page, campaigns in client.pages(day):
        records.extend((page, c) for c in campaigns)
        if progress is not None:
            progress(page, len(records))
    return records


def _validate(
    records: list[tuple[int, Any]], day: date, cfg: AdsSettings, report: ExtractReport
) -> tuple[list[tuple[Any, ...]], list[Any]]:
    now = datetime.now(UTC)
    rows: list[tuple[Any, ...]] = []
    letters: list[Any] = []
    seen: set[str] = set()
    for page, raw in records:
        reason, problem = None, None
        try:
            record = AdsCampaign.model_validate(raw)
            if record.date != day:
                reason, problem = "wrong_date", f"record for {record.date}, asked for {day}"
        except ValidationError as exc:
            reason, problem = (
                "invalid_record",
                "; ".join(
                    f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
                ),
            )
        if reason is not None:
            report.reject(reason)
            letters.append(
                (
                    "ads",
                    reason,
                    orjson.dumps(raw, default=str),
                    {"date": day.isoformat(), "page": page, "problem": problem},
                )
            )
            continue
        if record.campaign_id in seen:
            report.skipped += 1
            continue
        seen.add(record.campaign_id)
        rows.append(
            (
                record.date,
                record.campaign_id,
                record.campaign_name,
                channel_for(record, cfg),
                record.impressions,
                record.clicks,
                record.cost,
                record.conversions,
                now,
            )
        )
    return rows, letters


def _audit_failure(wh: Warehouse, report: ExtractReport, exc: RevopsError) -> None:
    # A failing warehouse must not hide the original error.
    with contextlib.suppress(RevopsError):
        audit(
            wh,
            "ads",
            "extract",
            "failed",
            detail={"slice": report.slice, "error": exc.message, "input": exc.input},
        )
