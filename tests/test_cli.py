"""The command line: init, ingest, sql, exit codes, and the CLI reference kept true."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from revops.cli.reference import reference

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, cwd: Path, stdin: bytes | None = None, env: dict | None = None):
    import os

    full_env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), **(env or {})}
    full_env.pop("REVOPS_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "revops", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        env=full_env,
        timeout=120,
    )


def test_cli_reference_is_up_to_date():
    assert (ROOT / "docs" / "cli.md").read_text(encoding="utf-8") == reference(), (
        "docs/cli.md is stale: run `python -m revops.cli.reference > docs/cli.md`"
    )


def test_init_writes_a_config_that_loads(tmp_path):
    res = run("init", str(tmp_path), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    text = (tmp_path / "revops.toml").read_text()
    assert "[warehouse]" in text
    again = run("init", str(tmp_path), cwd=tmp_path)
    assert again.returncode == 2 and b"--force" in again.stderr


def test_ingest_and_sql_round_trip(tmp_path):
    lines = [
        {
            "source": "stripe",
            "type": "stripe.invoice.paid",
            "event_ts": "2025-10-08T09:05:00Z",
            "event_id": "in_1ABCDxyz",
            "payload": {"invoice_id": "in_1ABCDxyz", "status": "paid"},
        },
        {
            "source": "stripe",
            "type": "stripe.invoice.paid",
            "event_ts": "2025-10-08T09:05:00Z",
            "event_id": "in_1ABCDxyz",
            "payload": {"invoice_id": "in_1ABCDxyz", "status": "paid"},
        },
    ]
    data = b"\n".join(json.dumps(x).encode() for x in lines) + b"\n{broken\n"
    res = run("ingest", "-", "--format", "json", cwd=tmp_path, stdin=data)
    assert res.returncode == 1  # one line failed
    counts = json.loads(res.stdout)[0]
    assert (counts["read"], counts["new"], counts["duplicates"], counts["dead_lettered"]) == (
        3,
        1,
        1,
        1,
    )
    out = run(
        "sql", "SELECT event_id, type FROM revops.events_raw", "--format", "json", cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [
        {"event_id": "stripe:in_1ABCDxyz", "type": "stripe.invoice.paid"}
    ]


def test_errors_are_plain_with_exit_codes(tmp_path):
    res = run("--config", str(tmp_path / "nope.toml"), "sql", "SELECT 1", cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr.decode().startswith("error: config file not found")
    bad = run("sql", "SELECT * FROM nowhere", cwd=tmp_path)
    assert bad.returncode == 1 and b"nowhere" in bad.stderr
    missing = run("ingest", str(tmp_path / "none.ndjson"), cwd=tmp_path)
    assert missing.returncode == 2 and b"input file not found" in missing.stderr
