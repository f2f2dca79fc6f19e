"""Settings of ``revops serve``: the ``[serve]``, ``[bus]`` and ``[loader]`` sections.

Every key has a default, so a server starts with no config file at all.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from revops.config import Settings

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787
DEFAULT_MAX_BODY = 1024 * 1024
BUS_FILE = "revops-bus.sqlite3"


class ServeConfig(BaseModel):
    """``[serve]``: where the receiver listens and what it accepts."""

    model_config = ConfigDict(extra="forbid")

    host: str = DEFAULT_HOST
    port: int = Field(DEFAULT_PORT, ge=0, le=65535)
    max_body_bytes: int = Field(DEFAULT_MAX_BODY, ge=1024)
    # Glob patterns over envelope types ("stripe.invoice.*"); events of other types are
    # answered 200 and counted as ignored, so senders do not retry them forever.
    accepted_types: list[str] = Field(default_factory=lambda: ["*"])
    stripe_tolerance_s: int = Field(300, ge=1)
    # Beyond this many events waiting on the bus the receiver answers 503 (back-pressure).
    max_bus_depth: int = Field(1_000_000, ge=1)
    # Dead letters waiting on the bus beyond this are not stored (counted in a metric).
    max_pending_dead_letters: int = Field(10_000, ge=1)
    transform_interval_s: float = Field(30.0, gt=0)
    # Transforms run after landings, but start at most this often and take at most this share
    # of the time, so acknowledging webhooks keeps priority over freshness under a burst.
    transform_min_interval_s: float = Field(0.5, ge=0)
    transform_max_duty: float = Field(0.33, gt=0, le=1)
    shutdown_drain_s: float = Field(10.0, ge=0)
    # Receiver processes sharing the port (webhooks verified and published to the bus there,
    # everything else relayed to the main process); 0 receives in the main process itself.
    receiver_processes: int = Field(2, ge=0, le=64)
    # With receiver processes, the loader, transform and notifier threads run at this nice
    # value (0 = as the receivers), so acknowledgements win the cores under a burst.
    background_nice: int = Field(10, ge=0, le=19)


class BusConfig(BaseModel):
    """``[bus]``: the durable queue between receiver and loader."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = None  # default: sqlite file beside the warehouse
    synchronous: str = Field("full", pattern="^(full|normal|extra)$")
    dedupe_window_hours: float = Field(7 * 24, gt=0)
    max_group: int = Field(2000, ge=1)


class LoaderConfig(BaseModel):
    """``[loader]``: micro-batches from the bus into ``events_raw``."""

    model_config = ConfigDict(extra="forbid")

    batch_size: int = Field(1000, ge=1)
    max_wait_ms: int = Field(50, ge=0, le=1000)
    max_backoff_s: float = Field(30.0, gt=0)
    # A burst: events arriving at this rate or faster (0 = never defer). The loader then
    # leaves the CPU to the acknowledgements and lands once the rate drops, or after
    # max_defer_s at the latest; slower flows land within max_wait_ms.
    defer_above_per_s: float = Field(1000.0, ge=0)
    max_defer_s: float = Field(5.0, ge=0, le=60)


def serve_config(settings: Settings) -> ServeConfig:
    """The validated ``[serve]`` section."""
    return settings.model("serve", ServeConfig)


def bus_config(settings: Settings) -> BusConfig:
    """The validated ``[bus]`` section."""
    return settings.model("bus", BusConfig)


def loader_config(settings: Settings) -> LoaderConfig:
    """The validated ``[loader]`` section."""
    return settings.model("loader", LoaderConfig)


def default_bus_url(warehouse_url: str) -> str:
    """``sqlite:///…`` beside a DuckDB file, else in the working folder."""
    if warehouse_url.startswith("duckdb:///"):
        path = warehouse_url[len("duckdb:///") :]
        if path and path != ":memory:":
            return "sqlite:///" + str(Path(path).with_name(BUS_FILE))
    return "sqlite:///" + BUS_FILE
