"""Data quality: declarative expectation suites run with Great Expectations.

Suites are YAML files shipped in ``revops/quality/suites/`` and overridable from
``[quality] suites_dir``. :func:`run_checks` validates them (in PostgreSQL itself, or on a
dataframe read from DuckDB), stores one ``dq_results`` row per expectation, renders Data Docs
and queues a Slack warning; a failed ``block`` expectation makes the report ``blocked``.
Great Expectations is imported only when checks run.
"""

from revops.quality.checks import new_run_id, run_checks, warning_message
from revops.quality.results import CheckReport, SuiteSummary
from revops.quality.settings import QualitySettings
from revops.quality.suite_spec import ExpectationSpec, Suite, load_suites

__all__ = [
    "CheckReport",
    "ExpectationSpec",
    "QualitySettings",
    "Suite",
    "SuiteSummary",
    "load_suites",
    "new_run_id",
    "run_checks",
    "warning_message",
]
