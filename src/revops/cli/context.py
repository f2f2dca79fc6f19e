"""State shared by the commands of one CLI invocation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from revops.config import Settings
    from revops.warehouse.base import Warehouse


@dataclass
class CliState:
    """The config path given on the command line and what was loaded from it."""

    config_path: str | None = None
    _settings: Settings | None = field(default=None, repr=False)

    def settings(self) -> Settings:
        """Settings, loaded once."""
        if self._settings is None:
            from revops.config import load_settings

            self._settings = load_settings(self.config_path)
        return self._settings


def state(ctx: typer.Context) -> CliState:
    """The :class:`CliState` of this invocation."""
    obj = ctx.find_root().obj
    if not isinstance(obj, CliState):
        obj = CliState()
        ctx.find_root().obj = obj
    return obj


def settings(ctx: typer.Context) -> Settings:
    """The settings of this invocation."""
    return state(ctx).settings()


def warehouse(ctx: typer.Context, *, read_only: bool = False) -> Warehouse:
    """Open the configured warehouse (schema ensured unless read-only)."""
    from revops.warehouse import open_warehouse

    return open_warehouse(settings(ctx), read_only=read_only)
