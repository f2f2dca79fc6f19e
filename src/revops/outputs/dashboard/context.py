"""What every dashboard route shares: the warehouse, settings, access check and live hub."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from revops.outputs.dashboard.access import Access, DashboardSettings
from revops.outputs.live import LiveHub
from revops.warehouse.base import Warehouse


@dataclass
class Dashboard:
    """One installed dashboard (one per app)."""

    warehouse: Warehouse
    settings: DashboardSettings
    access: Access
    hub: LiveHub
    tz: ZoneInfo
    stop_event: threading.Event = field(default_factory=threading.Event)

    def meta(self, currencies: list[str]) -> dict[str, Any]:
        """Settings the page needs to render (no secrets)."""
        return {
            "title": self.settings.title,
            "locale": self.settings.locale,
            "marketing_currency": self.settings.marketing_currency,
            "timezone": self.tz.key,
            "currencies": currencies,
            "live": "redis" if self.hub.redis_enabled else "in-process",
            "auth": "basic" if self.access.password else ("token" if self.access.token else "none"),
        }
