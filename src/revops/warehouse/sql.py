"""One dialect boundary: SQL is written in DuckDB's dialect and compiled per engine.

Statements use ``?`` placeholders for values (never formatted-in values) and quoted or fixed
identifiers. Compiled text is cached, so compiling costs once per distinct statement.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import sqlglot

SOURCE_DIALECT = "duckdb"


@lru_cache(maxsize=4096)
def compile_sql(sql: str, dialect: str) -> tuple[str, ...]:
    """Compile DuckDB-dialect ``sql`` (one or more statements) for ``dialect``."""
    if dialect == SOURCE_DIALECT:
        return tuple(s for s in _split(sql))
    return tuple(
        s for s in sqlglot.transpile(sql, read=SOURCE_DIALECT, write=dialect, pretty=False) if s
    )


def _split(sql: str) -> list[str]:
    """Split a DuckDB script into statements (sqlglot handles quotes and comments)."""
    stripped = sql.strip().rstrip(";")
    if ";" not in stripped:
        return [stripped] if stripped else []
    return [s.sql(dialect=SOURCE_DIALECT) for s in sqlglot.parse(sql, read=SOURCE_DIALECT) if s]


def load_sql(package: str, name: str) -> str:
    """The text of ``name`` (a ``.sql`` file) shipped in ``package``."""
    return resources.files(package).joinpath(name).read_text(encoding="utf-8")


def quote_ident(name: str) -> str:
    """Quote one identifier (``schema.table`` is quoted part by part)."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in name.split("."))
