"""Daily reports: the seed's text report, the channel KPI CSV and an HTML report with charts.

:func:`render_report` writes the three files to the local folder first (``[reports]
local_dir``, default ``./reports``) under the seed's keys; :mod:`revops.outputs.delivery`
copies them to the configured destinations and emails them; :func:`notify_completion` and
:func:`notify_failure` queue the Slack messages in the outbox.
"""

from __future__ import annotations

from revops.outputs.reports.bundle import ReportBundle, render_report
from revops.outputs.reports.data import DqStatus, ReportData, load_dq_status, load_report_data
from revops.outputs.reports.notify import notify_completion, notify_dq_warning, notify_failure

__all__ = [
    "DqStatus",
    "ReportBundle",
    "ReportData",
    "load_dq_status",
    "load_report_data",
    "notify_completion",
    "notify_dq_warning",
    "notify_failure",
    "render_report",
]
