"""Settings: ``revops.toml`` plus ``REVOPS_<SECTION>__<KEY>`` environment overrides.

The file is found at ``--config PATH``, else ``$REVOPS_CONFIG``, else ``./revops.toml``; a
missing default file is fine (every setting has a default). Secrets are never read from the file:
keys that look like secrets (``*secret``, ``*password``, ``*token``, ``webhook_url``) must come
from the environment (``REVOPS_STRIPE__WEBHOOK_SECRET``) or from a file named by the same
variable with ``_FILE`` appended.

Components own their sections: each declares a pydantic model and reads it with
:meth:`Settings.model`, so this module stays free of component knowledge.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ValidationError

from revops.errors import ConfigError

ENV_PREFIX = "REVOPS_"
DEFAULT_CONFIG = "revops.toml"
DEFAULT_WAREHOUSE_URL = "duckdb:///revops.duckdb"
SECRET_SUFFIXES = ("secret", "password", "token", "webhook_url", "secret_key", "api_key")

M = TypeVar("M", bound=BaseModel)


def is_secret_key(key: str) -> bool:
    """True when ``key`` names a secret that may only come from the environment."""
    return key.lower().endswith(SECRET_SUFFIXES)


def env_name(section: str, key: str) -> str:
    """The environment variable that overrides ``[section] key``."""
    return f"{ENV_PREFIX}{section.upper()}__{key.upper()}"


@dataclass
class Settings:
    """Merged settings; ``data`` holds non-secret values by section."""

    data: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    def section(self, name: str) -> dict[str, Any]:
        """The values of ``[name]`` (empty when absent)."""
        value = self.data.get(name, {})
        return value if isinstance(value, dict) else {}

    def get(self, section: str, key: str, default: Any = None) -> Any:
        """One value, or ``default``."""
        return self.section(section).get(key, default)

    def model(self, section: str, model: type[M]) -> M:
        """Validate ``[section]`` into ``model``; a bad value raises :class:`ConfigError`."""
        try:
            return model.model_validate(self.section(section))
        except ValidationError as exc:
            problems = "; ".join(
                f"{section}.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
                for err in exc.errors()
            )
            raise ConfigError(
                f"invalid settings in [{section}]: {problems}",
                where=str(self.path) if self.path else "environment",
                hint=f"fix the value in the config file or in {env_name(section, '<KEY>')}",
            ) from exc

    def secret(self, section: str, key: str) -> str | None:
        """A secret from ``REVOPS_<SECTION>__<KEY>`` or the file named by ``…_FILE``."""
        name = env_name(section, key)
        value = self.env.get(name)
        if value:
            return value
        file_name = self.env.get(name + "_FILE")
        if file_name:
            try:
                return Path(file_name).read_text(encoding="utf-8").strip() or None
            except OSError as exc:
                raise ConfigError(
                    f"cannot read the secret file for {name}",
                    input=file_name,
                    hint=f"point {name}_FILE at a readable file",
                ) from exc
        return None

    def require_secret(self, section: str, key: str, purpose: str) -> str:
        """Like :meth:`secret` but raises a :class:`ConfigError` naming the variable."""
        value = self.secret(section, key)
        if not value:
            name = env_name(section, key)
            raise ConfigError(
                f"{purpose} needs a secret that is not set",
                where=name,
                hint=f"set {name} (or {name}_FILE with the path of a file holding it)",
            )
        return value

    @property
    def warehouse_url(self) -> str:
        """The warehouse URL (``duckdb:///…`` or ``postgresql://…``)."""
        return str(self.get("warehouse", "url") or DEFAULT_WAREHOUSE_URL)

    @property
    def timezone(self) -> ZoneInfo:
        """The business time zone used to report days (default Asia/Tokyo)."""
        name = str(self.get("general", "timezone") or "Asia/Tokyo")
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(
                f"unknown time zone {name!r}",
                where="[general] timezone",
                hint="use an IANA name such as Asia/Tokyo or UTC",
            ) from exc

    def base_dir(self) -> Path:
        """Folder that relative paths in the settings are resolved against (the CWD)."""
        return Path.cwd()


def _check_no_secrets(data: Mapping[str, Any], path: Path, prefix: str = "") -> None:
    for key, value in data.items():
        if isinstance(value, Mapping):
            _check_no_secrets(value, path, f"{prefix}{key}.")
        elif is_secret_key(key) and value not in (None, ""):
            section = prefix.rstrip(".").split(".")[0] or key
            raise ConfigError(
                f"the config file holds a secret ({prefix}{key}); secrets are read only from "
                "the environment or from files",
                where=str(path),
                hint=f"remove it from the file and set {env_name(section, key)} instead",
            )


def _apply_env(data: dict[str, Any], env: Mapping[str, str]) -> None:
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        parts = [p.lower() for p in name[len(ENV_PREFIX) :].split("__")]
        if any(not p for p in parts) or is_secret_key(parts[-1]) or parts[-1].endswith("_file"):
            continue
        node = data
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[parts[-1]] = value


def load_settings(
    path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    """Read the config file (when present) and apply environment overrides.

    An explicitly named file that does not exist is a :class:`ConfigError`; the default
    ``./revops.toml`` may be absent.
    """
    env = dict(os.environ if env is None else env)
    explicit = path or env.get("REVOPS_CONFIG")
    cfg_path = Path(explicit) if explicit else Path(DEFAULT_CONFIG)
    data: dict[str, Any] = {}
    if cfg_path.exists():
        try:
            data = tomllib.loads(cfg_path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(
                f"the config file is not valid TOML: {exc}",
                input=str(cfg_path),
                hint="fix the syntax (see `revops init` for a starter file)",
            ) from exc
        except OSError as exc:
            raise ConfigError("cannot read the config file", input=str(cfg_path)) from exc
        _check_no_secrets(data, cfg_path)
    elif explicit:
        raise ConfigError(
            "config file not found",
            input=str(cfg_path),
            hint="create one with `revops init`, or drop --config / REVOPS_CONFIG",
        )
    _apply_env(data, env)
    return Settings(data=data, path=cfg_path if cfg_path.exists() else None, env=env)
