"""Render one day's report to local disk: the files every destination and email start from."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from revops.audit import audit
from revops.outputs.reports.data import ReportData, load_report_data
from revops.outputs.reports.render import (
    ReportKeys,
    render_csv,
    render_html,
    render_text,
    write_atomic,
)
from revops.outputs.reports.settings import ReportsSettings

if TYPE_CHECKING:
    from revops.config import Settings
    from revops.warehouse.base import Warehouse


@dataclass(frozen=True)
class ReportBundle:
    """The local files of one day's report and the keys they are delivered under."""

    day: date
    run_id: str | None
    local_dir: Path
    text_path: Path
    csv_path: Path
    html_path: Path
    keys: ReportKeys
    data: ReportData | None = field(default=None, repr=False, compare=False)

    def files(self) -> list[tuple[str, str, Path]]:
        """``(kind, key, local path)`` for each file, in delivery order."""
        paths = {"text": self.text_path, "csv": self.csv_path, "html": self.html_path}
        return [(kind, key, paths[kind]) for kind, key in self.keys.items()]

    def as_dict(self) -> dict[str, Any]:
        """Plain values for JSON output and audit details."""
        return {
            "day": self.day.isoformat(),
            "run_id": self.run_id,
            "text": str(self.text_path),
            "csv": str(self.csv_path),
            "html": str(self.html_path),
        }

    @classmethod
    def from_local(cls, settings: Settings, day: date, run_id: str | None = None) -> ReportBundle:
        """The bundle of a day already rendered to the local folder (for redelivery)."""
        local = _local_dir(settings)
        keys = ReportKeys.for_day(day)
        return cls(day, run_id, local, local / keys.text, local / keys.csv, local / keys.html, keys)


def _local_dir(settings: Settings) -> Path:
    folder = Path(settings.model("reports", ReportsSettings).local_dir).expanduser()
    return folder if folder.is_absolute() else settings.base_dir() / folder


def render_report(
    wh: Warehouse, settings: Settings, day: date, *, run_id: str | None = None
) -> ReportBundle:
    """Render the report of run date ``day`` (period ending ``day - 1``) to local disk.

    Writes the text, CSV and HTML files under ``[reports] local_dir`` with the seed's keys,
    replacing earlier renders of the same day, and audits the render. Raises when the
    marketing marts hold nothing for the period.
    """
    cfg = settings.model("reports", ReportsSettings)
    try:
        data = load_report_data(
            wh,
            day,
            tz=settings.timezone,
            run_id=run_id,
            trend_days=cfg.trend_days,
            nrr_months=cfg.nrr_months,
        )
    except Exception as exc:
        audit(
            wh,
            f"report:{day.isoformat()}",
            "render",
            "failed",
            request_id=run_id,
            detail={"error": f"{type(exc).__name__}: {exc}"[:500]},
        )
        raise
    bundle = replace(ReportBundle.from_local(settings, day, run_id), data=data)
    write_atomic(bundle.text_path, render_text(data))
    write_atomic(bundle.csv_path, render_csv(data))
    write_atomic(bundle.html_path, render_html(data, run_id=run_id))
    audit(
        wh, f"report:{day.isoformat()}", "render", "ok", request_id=run_id, detail=bundle.as_dict()
    )
    return bundle
