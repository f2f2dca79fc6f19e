"""The ``[quality]`` section of the settings."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from revops.config import Settings

DEFAULT_SAMPLE_ROWS = 1_000_000
DEFAULT_REPORTS_DIR = "./reports"


class QualitySettings(BaseModel):
    """``[quality]``: where override suites live and how much data one pass validates."""

    # Folder of suite files; a file named like a shipped suite replaces it, others add suites.
    suites_dir: str | None = None
    # Largest number of rows validated in one pass on a dataframe (DuckDB); a larger table is
    # validated on a uniform sample of this size, and the result says so.
    sample_rows: int = Field(DEFAULT_SAMPLE_ROWS, ge=1)
    # How many unexpected values each result keeps as a sample.
    unexpected_sample: int = Field(20, ge=0, le=200)
    # Render Great Expectations Data Docs (HTML) into <reports>/quality/<run_id>/.
    data_docs: bool = True


def quality_settings(settings: Settings) -> QualitySettings:
    """The validated ``[quality]`` section (a bad value raises ConfigError)."""
    return settings.model("quality", QualitySettings)


def reports_dir(settings: Settings) -> Path:
    """The local reports folder (``[reports] local_dir``, default ``./reports``)."""
    return Path(str(settings.get("reports", "local_dir", DEFAULT_REPORTS_DIR)))
