"""The ``[reports]`` and ``[email]`` sections (``[slack]`` holds no file keys: its webhook URL
comes only from ``REVOPS_SLACK__WEBHOOK_URL``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


def _as_list(value: Any) -> Any:
    # Environment overrides arrive as one string: "a,b" means two entries.
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return value


class ReportsSettings(BaseModel):
    """Where reports go and how much history their charts show."""

    # Other components may keep their own keys in [reports] (e.g. Data Docs): ignore them.
    model_config = ConfigDict(extra="ignore")

    local_dir: str = "reports"
    destinations: list[str] = Field(default_factory=list)
    s3_endpoint_url: str | None = None
    storage_options: dict[str, Any] = Field(default_factory=dict)
    trend_days: int = Field(14, ge=1, le=366)
    nrr_months: int = Field(12, ge=1, le=120)
    retries: int = Field(3, ge=0, le=10)
    retry_base_seconds: float = Field(1.0, ge=0)

    _split = field_validator("destinations", mode="before")(_as_list)


class EmailSettings(BaseModel):
    """SMTP delivery; nothing is sent while ``host`` or ``to`` is empty."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    host: str | None = None
    port: int | None = None
    security: Literal["starttls", "ssl", "none"] = "starttls"
    user: str | None = None
    from_: str = Field("revops@localhost", alias="from")
    to: list[str] = Field(default_factory=list)
    cc: list[str] = Field(default_factory=list)
    subject: str = "マーケティング効果分析レポート {day}"
    timeout_seconds: float = Field(30.0, gt=0)
    ca_file: str | None = None

    _split = field_validator("to", "cc", mode="before")(_as_list)

    @property
    def enabled(self) -> bool:
        """True when a host and at least one recipient are configured."""
        return bool(self.host and self.to)

    @property
    def effective_port(self) -> int:
        """The port, defaulting by security: 465 for SSL, 587 for STARTTLS, 25 otherwise."""
        if self.port:
            return self.port
        return {"ssl": 465, "starttls": 587}.get(self.security, 25)
