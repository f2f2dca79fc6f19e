"""Running suites with Great Expectations 1.x (imported here only, on first use).

On a SQL warehouse with a GX data source (PostgreSQL) the expectations run in the database:
the suite's batch is a GX query asset, one day of it a GX daily partition. GX does not run on
DuckDB, so there the batch is read into a pandas dataframe first; a batch larger than
``sample_rows`` is validated on a uniform sample of that size and the outcome says so.

One :class:`GxSession` holds one ephemeral GX context per check run: nothing is written
outside the Data Docs folder it is given.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from revops.errors import ConfigError
from revops.quality import batches
from revops.warehouse.sql import compile_sql

if TYPE_CHECKING:
    from revops.quality.suite_spec import Suite
    from revops.warehouse.base import Warehouse

DOCS_SITE = "revops"
# GX names its severities differently: ours decides what the pipeline does, GX's is shown.
_GX_SEVERITY = {"block": "critical", "warn": "warning"}
# Warehouses whose SQL GX runs itself (dialect -> SQLAlchemy URL scheme); any other warehouse
# (DuckDB) is validated on dataframes read from it.
GX_SQL_SCHEMES = {"postgres": "postgresql+psycopg"}
# Expectations GX runs only on SQL engines (not on a pandas dataframe).
SQL_ONLY_TYPES = frozenset({"unexpected_rows_expectation"})


@contextmanager
def quiet() -> Iterator[None]:
    """Silence GX's deprecation noise (it warns about its own dependencies)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@lru_cache(maxsize=1)
def gx() -> Any:
    """The ``great_expectations`` module (imported once, ~3 s)."""
    try:
        with quiet():
            import great_expectations
            import great_expectations.expectations
    except ImportError as exc:
        raise ConfigError(
            "data-quality checks need Great Expectations", hint="pip install 'revops[quality]'"
        ) from exc
    return great_expectations


@lru_cache(maxsize=1)
def known_expectation_types() -> tuple[str, ...]:
    """Every expectation type GX knows (snake_case)."""
    gx()
    from great_expectations.expectations.registry import (
        list_registered_expectation_implementations,
    )

    return tuple(sorted(list_registered_expectation_implementations()))


def expectation_class(type_name: str) -> Any:
    """The GX class of one expectation type."""
    gx()
    from great_expectations.expectations.registry import get_expectation_impl

    return get_expectation_impl(type_name)


@dataclass
class SuiteOutcome:
    """GX's results of one suite, keyed by the expectation's index in the suite file."""

    suite: Suite
    results: dict[int, Any]
    rows_checked: int
    rows_total: int

    @property
    def sampled(self) -> bool:
        """True when fewer rows were validated than the batch has."""
        return self.rows_checked < self.rows_total


class GxSession:
    """One check run's GX context, data sources and Data Docs site."""

    def __init__(
        self,
        wh: Warehouse,
        *,
        password: str | None = None,
        docs_dir: Path | None = None,
        sample_rows: int = 1_000_000,
        unexpected_sample: int = 20,
    ) -> None:
        self.wh = wh
        self.in_database = wh.dialect in GX_SQL_SCHEMES
        self.docs_dir = docs_dir
        self.sample_rows = sample_rows
        self.result_format = {
            "result_format": "SUMMARY",
            "partial_unexpected_count": unexpected_sample,
        }
        with quiet():
            self.context = gx().get_context(mode="ephemeral")
            self.context.variables.progress_bars = {"globally": False, "metric_calculations": False}
            # The ephemeral context comes with a default site in a temp folder: only ours.
            for site in list(self.context.get_config().data_docs_sites or {}):
                self.context.delete_data_docs_site(site)
            if docs_dir is not None:
                self.context.add_data_docs_site(
                    site_name=DOCS_SITE,
                    site_config={
                        "class_name": "SiteBuilder",
                        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                        "store_backend": {
                            "class_name": "TupleFilesystemStoreBackend",
                            "base_directory": str(docs_dir.resolve()),
                        },
                    },
                )
            self.source = self._add_source(password)

    def _add_source(self, password: str | None) -> Any:
        sources = self.context.data_sources
        if not self.in_database:
            return sources.add_pandas("revops")
        url = self.wh.url.split("://", 1)[1]
        connect_args = {"password": password} if password else {}
        # The password goes to the driver, not into the URL GX may print.
        return sources.add_postgres(
            "revops",
            connection_string=f"{GX_SQL_SCHEMES[self.wh.dialect]}://{url}",
            kwargs={"connect_args": connect_args},
        )

    def check_supported(self, suite: Suite) -> None:
        """Refuse, before reading data, an expectation this engine cannot run."""
        if self.in_database:
            return
        for spec in suite.expectations:
            if spec.type in SQL_ONLY_TYPES:
                raise ConfigError(
                    f"{spec.type} runs only in a SQL database, not on DuckDB's dataframes",
                    where=suite.where(spec.line),
                    hint="use derived: columns with expect_column_pair_values_to_be_equal "
                    "or expect_column_values_to_be_in_set instead",
                )

    def validate(self, suite: Suite, *, day: date | None, run_name: str) -> SuiteOutcome:
        """Validate one suite; returns GX's results and how many rows were validated."""
        batch = batches.batch_query(suite, day)
        total = int(self.wh.query_value(*_args(batches.count_query(batch))) or 0)
        with quiet():
            gx_suite = self._gx_suite(suite)
            if self.in_database:
                definition, params = self._sql_batch(suite, day)
                checked = total
            else:
                definition, params, checked = self._dataframe_batch(suite, batch, total)
            validation = self.context.validation_definitions.add(
                gx().ValidationDefinition(
                    name=f"{suite.name}-{run_name}", data=definition, suite=gx_suite
                )
            )
            from great_expectations.core.run_identifier import RunIdentifier

            result = validation.run(
                batch_parameters=params,
                result_format=self.result_format,
                run_id=RunIdentifier(run_name=run_name),
            )
        by_index = {int(r.expectation_config.meta["revops_index"]): r for r in result.results}
        return SuiteOutcome(suite, by_index, checked, total)

    def _gx_suite(self, suite: Suite) -> Any:
        gx_suite = self.context.suites.add(gx().ExpectationSuite(name=suite.name))
        for spec in suite.expectations:
            cls = expectation_class(spec.type)
            extra: dict[str, Any] = {
                "meta": {"revops_index": spec.index, "revops_severity": spec.severity},
                "severity": _GX_SEVERITY[spec.severity],
            }
            if spec.description:
                extra["description"] = spec.description
            gx_suite.add_expectation(cls(**spec.kwargs, **extra))
        return gx_suite

    def _sql_batch(self, suite: Suite, day: date | None) -> tuple[Any, dict[str, int] | None]:
        query = compile_sql(batches.source_sql(suite), self.wh.dialect)[-1]
        asset = self.source.add_query_asset(suite.name, query=query)
        if day is not None and suite.date_column:
            definition = asset.add_batch_definition_daily("day", column=suite.date_column)
            return definition, {"year": day.year, "month": day.month, "day": day.day}
        return asset.add_batch_definition_whole_table("all"), None

    def _dataframe_batch(
        self, suite: Suite, batch: batches.BatchQuery, total: int
    ) -> tuple[Any, dict[str, Any], int]:
        if total > self.sample_rows:
            batch = batches.sample_query(batch, self.sample_rows)
        frame = self.wh.query_df(batch.sql, batch.params)
        asset = self.source.add_dataframe_asset(suite.name)
        definition = asset.add_batch_definition_whole_dataframe("all")
        return definition, {"dataframe": frame}, len(frame)

    def build_docs(self) -> Path | None:
        """Render the Data Docs of every validation of this session; returns the index."""
        if self.docs_dir is None:
            return None
        with quiet():
            self.context.build_data_docs(site_names=[DOCS_SITE])
        index = self.docs_dir / "index.html"
        return index if index.exists() else None

    def close(self) -> None:
        """Release the database connections GX opened."""
        if self.in_database:
            with quiet():
                self.source.get_engine().dispose()


def _args(query: batches.BatchQuery) -> tuple[str, tuple[object, ...]]:
    return query.sql, query.params
