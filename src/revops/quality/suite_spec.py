"""Expectation suites as YAML files: loading and checking them before any data is read.

A suite file names its data (``table:`` a revops table, or ``query_file:`` a SELECT in a file
next to it), optional ``derived:`` columns (SQL expressions added to every row), a default
``severity`` (``warn`` or ``block``) and its ``expectations``: each an entry with ``type`` (a
Great Expectations expectation, snake_case as in GX's docs) and that expectation's arguments,
plus optional ``severity`` and ``description``.

Every mistake is reported with the file, the line and the known alternatives: an unknown key,
an unknown expectation type or argument, a bad severity, and (see :func:`check_columns`) a
column that the table does not have.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from revops.errors import ConfigError

SEVERITIES = ("warn", "block")
DEFAULT_SEVERITY = "warn"
SUITE_KEYS = (
    "suite",
    "description",
    "table",
    "query_file",
    "date_column",
    "derived",
    "severity",
    "expectations",
)
ENTRY_KEYS = ("type", "severity", "description")
COLUMN_ARGS = ("column", "column_A", "column_B", "column_list")
EXIST_TYPE = "expect_column_to_exist"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class ExpectationSpec:
    """One expectation of a suite, as written in its file."""

    index: int
    type: str
    kwargs: dict[str, Any]
    severity: str
    description: str | None
    line: int
    arg_lines: dict[str, int] = field(default_factory=dict, compare=False)

    @property
    def columns(self) -> list[str]:
        """The columns this expectation reads."""
        out: list[str] = []
        for arg in COLUMN_ARGS:
            value = self.kwargs.get(arg)
            if isinstance(value, str):
                out.append(value)
            elif isinstance(value, list):
                out.extend(str(v) for v in value)
        return out

    @property
    def column_label(self) -> str | None:
        """The column(s) as stored in ``dq_results.column`` (pairs joined by a comma)."""
        cols = self.columns
        return ",".join(cols) if cols else None


@dataclass(frozen=True)
class Suite:
    """A loaded suite: where its data comes from and its expectations."""

    name: str
    path: Path
    expectations: tuple[ExpectationSpec, ...]
    table: str | None = None
    query: str | None = None
    date_column: str | None = None
    derived: dict[str, str] = field(default_factory=dict)
    severity: str = DEFAULT_SEVERITY
    description: str | None = None
    line: int = 1

    def where(self, line: int | None = None) -> str:
        """``file:line`` for error messages."""
        return f"{self.path}:{line or self.line}"


class _Located(dict):  # type: ignore[type-arg]
    """A mapping that remembers the line it starts on and the line of each key."""

    line: int = 1
    key_lines: dict[str, int]


class _LineLoader(yaml.SafeLoader):
    """A safe YAML loader whose mappings know their lines (for error messages)."""


def _construct_located(loader: _LineLoader, node: yaml.MappingNode) -> Iterable[_Located]:
    data = _Located()
    data.line = node.start_mark.line + 1
    data.key_lines = {str(k.value): k.start_mark.line + 1 for k, _ in node.value}
    yield data
    data.update(loader.construct_mapping(node, deep=True))


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_located)


def _plain(value: Any) -> Any:
    """Located mappings turned back into plain dicts and lists (for GX)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def suggest(word: str, known: Iterable[str], *, n: int = 3) -> str:
    """`` (did you mean: a, b?)`` or a list of what is known when nothing is close."""
    known = sorted(set(known))
    close = difflib.get_close_matches(word, known, n=n, cutoff=0.6)
    if close:
        return "did you mean: " + ", ".join(close) + "?"
    shown = ", ".join(known[:12]) + (", …" if len(known) > 12 else "")
    return "known: " + shown


def _bad(path: Path, line: int, message: str, hint: str | None = None) -> ConfigError:
    return ConfigError(message, where=f"{path}:{line}", hint=hint)


def shipped_suites_dir() -> Path:
    """The folder of suites shipped with the package."""
    return Path(str(resources.files("revops.quality.suites")))


def suite_files(suites_dir: str | Path | None = None) -> dict[str, Path]:
    """Suite name (file stem) → file: the shipped suites, replaced or extended by the files
    of ``suites_dir``."""
    files = {p.stem: p for p in sorted(shipped_suites_dir().glob("*.yaml"))}
    if suites_dir:
        folder = Path(suites_dir)
        if not folder.is_dir():
            raise ConfigError(
                "the suites folder does not exist",
                input=str(folder),
                where="[quality] suites_dir",
                hint="create it or remove the setting to use the shipped suites",
            )
        for p in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
            files[p.stem] = p
    return files


def load_suites(
    names: Iterable[str] | None = None, *, suites_dir: str | Path | None = None
) -> list[Suite]:
    """Load and check the named suites (all when ``names`` is empty), in name order.

    An unknown name raises :class:`ConfigError` listing the known suites.
    """
    files = suite_files(suites_dir)
    wanted = list(names or files)
    for name in wanted:
        if name not in files:
            raise ConfigError(
                f"unknown suite {name!r}",
                input=name,
                where=str(suites_dir or shipped_suites_dir()),
                hint=suggest(name, files),
            )
    return [load_suite(files[n]) for n in sorted(set(wanted))]


def load_suite(path: Path) -> Suite:
    """Parse one suite file and check its structure and expectation types (no data read)."""
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LineLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark else 1
        raise _bad(
            path,
            line,
            f"the suite file is not valid YAML: {exc.problem}",
            "fix the indentation or quoting on that line",
        ) from exc
    except OSError as exc:
        raise ConfigError("cannot read the suite file", input=str(path)) from exc
    if not isinstance(data, _Located):
        raise _bad(path, 1, "a suite file holds a mapping (suite:, table:, expectations: …)")
    _check_keys(path, data, SUITE_KEYS, "suite key")
    severity = _severity(path, data, DEFAULT_SEVERITY)
    table, query = _source(path, data)
    derived = _derived(path, data)
    entries = data.get("expectations")
    if not isinstance(entries, list) or not entries:
        raise _bad(
            path,
            data.key_lines.get("expectations", data.line),
            "the suite has no expectations",
            "add a list under expectations:",
        )
    name = str(data.get("suite") or path.stem)
    if name != path.stem:
        raise _bad(
            path,
            data.key_lines.get("suite", data.line),
            f"the suite is named {name!r} but its file {path.name!r}",
            f"rename the file to {name}.yaml or write suite: {path.stem}",
        )
    specs = tuple(_entry(path, i, e, severity) for i, e in enumerate(entries))
    date_column = data.get("date_column")
    return Suite(
        name=name,
        path=path,
        expectations=specs,
        table=table,
        query=query,
        date_column=str(date_column) if date_column else None,
        derived=derived,
        severity=severity,
        description=data.get("description"),
        line=data.line,
    )


def _check_keys(path: Path, data: _Located, known: Iterable[str], what: str) -> None:
    for key in data:
        if key not in known:
            raise _bad(
                path,
                data.key_lines.get(key, data.line),
                f"unknown {what} {key!r}",
                suggest(key, known),
            )


def _severity(path: Path, data: _Located, default: str) -> str:
    value = data.get("severity", default)
    if value not in SEVERITIES:
        raise _bad(
            path,
            data.key_lines.get("severity", data.line),
            f"unknown severity {value!r}",
            "use warn or block",
        )
    return str(value)


def _source(path: Path, data: _Located) -> tuple[str | None, str | None]:
    table, query_file = data.get("table"), data.get("query_file")
    if bool(table) == bool(query_file):
        raise _bad(path, data.line, "a suite names exactly one of table: or query_file:")
    if table:
        if not _NAME.match(str(table)):
            raise _bad(
                path,
                data.key_lines["table"],
                f"not a table name: {table!r}",
                "name a table of the revops schema, e.g. raw_ads",
            )
        return str(table), None
    candidates = [path.parent / str(query_file), shipped_suites_dir() / str(query_file)]
    for candidate in candidates:
        if candidate.is_file():
            return None, candidate.read_text(encoding="utf-8").strip().rstrip(";")
    raise _bad(
        path,
        data.key_lines["query_file"],
        f"query file {query_file!r} not found",
        "put it next to the suite file",
    )


def _derived(path: Path, data: _Located) -> dict[str, str]:
    derived = data.get("derived") or {}
    if not isinstance(derived, Mapping):
        raise _bad(
            path,
            data.key_lines.get("derived", data.line),
            "derived: maps new column names to SQL expressions",
        )
    for name in derived:
        if not _NAME.match(str(name)):
            raise _bad(
                path,
                derived.key_lines.get(name, data.line),  # type: ignore[attr-defined]
                f"not a column name: {name!r}",
                "use letters, digits and _",
            )
    return {str(k): str(v) for k, v in derived.items()}


def _entry(path: Path, index: int, entry: Any, default_severity: str) -> ExpectationSpec:
    from revops.quality.validation import expectation_class, known_expectation_types, quiet

    if not isinstance(entry, _Located) or "type" not in entry:
        line = entry.line if isinstance(entry, _Located) else 1
        raise _bad(
            path,
            line,
            f"expectation #{index + 1} has no type:",
            "write e.g. - type: expect_column_values_to_not_be_null",
        )
    type_name = _snake(str(entry["type"]))
    known = known_expectation_types()
    if type_name not in known:
        raise _bad(
            path,
            entry.key_lines.get("type", entry.line),
            f"unknown expectation type {entry['type']!r}",
            suggest(type_name, known),
        )
    severity = _severity(path, entry, default_severity)
    kwargs = {k: _plain(v) for k, v in entry.items() if k not in ENTRY_KEYS}
    cls = expectation_class(type_name)
    allowed = set(cls.__fields__) - {
        "id",
        "meta",
        "notes",
        "rendered_content",
        "windows",
        "batch_id",
    }
    for key in kwargs:
        if key not in allowed:
            raise _bad(
                path,
                entry.key_lines.get(key, entry.line),
                f"{type_name} has no argument {key!r}",
                suggest(key, allowed),
            )
    try:
        with quiet():
            cls(**kwargs)
    except Exception as exc:
        raise _bad(
            path,
            entry.line,
            f"invalid arguments for {type_name}: {_first_line(exc)}",
            "see the expectation's reference in the Great Expectations docs",
        ) from exc
    description = entry.get("description")
    return ExpectationSpec(
        index=index,
        type=type_name,
        kwargs=kwargs,
        severity=severity,
        description=str(description) if description else None,
        line=entry.line,
        arg_lines=dict(entry.key_lines),
    )


def _snake(name: str) -> str:
    """``ExpectColumnToExist`` → ``expect_column_to_exist`` (snake_case passes through)."""
    if "_" in name or name.islower():
        return name
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _first_line(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text[:300]


def check_columns(suite: Suite, columns: Iterable[str]) -> None:
    """Raise :class:`ConfigError` (file, line, close matches) for a column the data lacks.

    ``columns`` are the data's columns (from the warehouse's information_schema); derived
    columns count too. Columns that the suite itself expects to exist are exempt: their
    absence is a data problem that ``expect_column_to_exist`` reports.
    """
    available = set(columns) | set(suite.derived)
    expected_to_exist = {c for e in suite.expectations if e.type == EXIST_TYPE for c in e.columns}
    for spec in suite.expectations:
        for col in spec.columns:
            if col in available or col in expected_to_exist:
                continue
            arg = next(
                (
                    a
                    for a in COLUMN_ARGS
                    if col == spec.kwargs.get(a) or col in (spec.kwargs.get(a) or [])
                ),
                "column",
            )
            line = spec.arg_lines.get(arg, spec.line)
            source = suite.table or "the suite's query"
            raise ConfigError(
                f"{source} has no column {col!r} ({spec.type})",
                where=suite.where(line),
                hint=suggest(col, available),
            )
    if suite.date_column and suite.date_column not in available:
        raise ConfigError(
            f"{suite.table or 'the query'} has no column {suite.date_column!r} (date_column)",
            where=suite.where(),
            hint=suggest(suite.date_column, available),
        )
