"""The Airflow 3 DAG: built from the same graph and run with Airflow's own ``dag.test()``.

Airflow lives in its own virtualenv (``scripts/setup-airflow`` creates ``.venv-airflow``);
without it the test skips, or fails in CI (REVOPS_REQUIRE_SERVICES=1).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import date
from pathlib import Path

import orjson
import pytest
from tests.conftest import service_unavailable

from revops.warehouse import connect

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv-airflow"
HOME = VENV / "airflow-home"

# The one small file a team drops into its dags folder (here with test task overrides).
DAG_FILE = """\
from revops.pipeline.airflow_dag import build_dag

dag = build_dag(overrides="tests.pipeline.airflow_fake:TASKS")
"""

CHECK = """\
import json, sys
from datetime import timedelta

import pendulum
from airflow.sdk import DAG  # noqa: F401

sys.path.insert(0, sys.argv[1])
import revops_daily

dag = revops_daily.dag
tasks = {t.task_id: t for t in dag.tasks}
shape = {
    "dag_id": dag.dag_id,
    "schedule": str(dag.schedule),
    "catchup": dag.catchup,
    "max_active_runs": dag.max_active_runs,
    "tags": sorted(dag.tags),
    "owner": dag.default_args["owner"],
    "retries": sorted({t.retries for t in tasks.values()}),
    "exponential": all(t.retry_exponential_backoff for t in tasks.values()),
    "retry_delay_s": tasks["extract_ads_from_api"].retry_delay.total_seconds(),
    "timeouts_min": {k: t.execution_timeout / timedelta(minutes=1) for k, t in tasks.items()},
    "upstream": {k: sorted(t.upstream_task_ids) for k, t in tasks.items()},
    "has_failure_callback": all(bool(t.on_failure_callback) for t in tasks.values()),
}
run = dag.test(logical_date=pendulum.datetime(2024, 1, 16, 7, tz="Asia/Tokyo"))
shape["state"] = str(run.state)
print("RESULT " + json.dumps(shape))
"""


@pytest.mark.slow
def test_airflow_dag_test_succeeds(tmp_path: Path) -> None:
    python = VENV / "bin" / "python"
    if not python.exists() or not (HOME / "airflow.db").exists():
        service_unavailable("Airflow in .venv-airflow", "run scripts/setup-airflow first")
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "revops_daily.py").write_text(DAG_FILE, encoding="utf-8")
    (tmp_path / "check.py").write_text(CHECK, encoding="utf-8")
    home = tmp_path / "airflow-home"
    home.mkdir()
    shutil.copy(HOME / "airflow.db", home / "airflow.db")  # migrated once by the setup script
    url = f"duckdb:///{tmp_path}/revops.duckdb"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REVOPS_", "AIRFLOW"))}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home}/airflow.db",
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        REVOPS_WAREHOUSE__URL=url,
        PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
    )
    proc = subprocess.run(
        [str(python), "check.py", str(dags)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stdout[-3000:] + proc.stderr[-3000:]
    shape = orjson.loads(lines[-1][len("RESULT ") :])
    assert shape["state"].endswith("success")
    assert shape["dag_id"] == "marketing_data_integration_pipeline"
    assert shape["schedule"] == "0 7 * * *"
    assert shape["catchup"] is False and shape["max_active_runs"] == 1
    assert shape["tags"] == ["final-project", "kpi", "marketing", "production"]
    assert shape["owner"] == "marketing_analytics_team"
    assert shape["retries"] == [3] and shape["exponential"] is True
    assert shape["retry_delay_s"] == 300
    assert shape["has_failure_callback"] is True
    assert list(shape["timeouts_min"].values()) == [15, 10, 10, 15, 20, 10, 15, 15, 120]
    assert shape["upstream"]["validate_with_great_expectations"] == [
        "extract_ads_from_api",
        "extract_customers_from_crm",
        "extract_sales_from_csv",
    ]
    assert shape["upstream"]["send_marketing_notification"] == [
        "generate_and_upload_reports",
        "load_to_marketing_dwh",
    ]
    wh = connect(url)
    try:
        runs = wh.query("SELECT run_id, run_date, status, trigger FROM revops.pipeline_runs")
        tasks = wh.query("SELECT task_id, status FROM revops.task_runs ORDER BY started_at")
    finally:
        wh.close()
    assert len(runs) == 1 and runs[0]["run_id"].startswith("airflow-manual__")
    assert (runs[0]["run_date"], runs[0]["status"], runs[0]["trigger"]) == (
        date(2024, 1, 16),
        "success",
        "airflow",
    )
    assert len(tasks) == 9 and {t["status"] for t in tasks} == {"success"}
