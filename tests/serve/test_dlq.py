"""``revops dlq``: dead letters are listed, shown and replayed idempotently once fixed."""

from __future__ import annotations

import orjson
from serve_harness import stripe_event
from typer.testing import CliRunner

from revops.cli import app as cli_app
from revops.errors import UsageError
from revops.ingest.dead_letters import dead_letter
from revops.ingest.dlq import list_dead_letters, replay, show_dead_letter
from revops.notify.rules import default_rules


def test_replay_lands_fixed_letters_once(wh) -> None:  # type: ignore[no-untyped-def]
    good = stripe_event(5)
    fixed = dead_letter(wh, "stripe", "unrecognised_event", good, {"endpoint": "/webhooks/stripe"})
    broken = dead_letter(
        wh, "stripe", "malformed_json", b"{still bad", {"endpoint": "/webhooks/stripe"}
    )
    line = dead_letter(
        wh,
        "unknown",
        "malformed_json",
        orjson.dumps(
            {
                "source": "crm",
                "type": "crm.customer.created",
                "event_ts": "2025-10-08T09:00:00Z",
                "event_id": "c-9",
                "payload": {},
            }
        ),
        {"file": "x.ndjson", "line": 3},
    )
    listed = list_dead_letters(wh)
    assert [r["id"] for r in listed] == [line, broken, fixed]
    assert listed[-1]["size"] == len(good)
    assert show_dead_letter(wh, fixed)["body"] == good

    report = replay(wh, rules=default_rules())
    assert report.replayed == [fixed, line] and list(report.failed) == [broken]
    assert "malformed_json" in report.failed[broken]
    assert (report.new, report.duplicates) == (2, 0)
    assert wh.query_value("SELECT count(*) FROM revops.notifications_outbox") == 1
    assert [r["id"] for r in list_dead_letters(wh)] == [broken]

    again = replay(wh, [fixed])
    assert (again.replayed, again.new, again.duplicates) == ([fixed], 0, 1)
    assert wh.query_value("SELECT count(*) FROM revops.events_raw") == 2


def test_dlq_commands(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from revops.warehouse import connect, ensure_schema

    url = f"duckdb:///{tmp_path}/revops.duckdb"
    wh = connect(url)
    ensure_schema(wh)
    letter = dead_letter(wh, "stripe", "malformed_json", b"{oops", {"endpoint": "/webhooks/stripe"})
    wh.close()
    env = {"REVOPS_WAREHOUSE__URL": url}
    runner = CliRunner()
    listed = runner.invoke(cli_app, ["dlq", "list", "--format", "json"], env=env)
    assert listed.exit_code == 0, listed.output
    assert [(r["id"], r["reason"]) for r in orjson.loads(listed.output)] == [
        (letter, "malformed_json")
    ]
    shown = runner.invoke(cli_app, ["dlq", "show", str(letter)], env=env)
    assert "reason: malformed_json" in shown.output and "{oops" in shown.output
    failed = runner.invoke(cli_app, ["dlq", "replay", "--all"], env=env)
    assert failed.exit_code == 1 and "replayed 0  failed 1" in failed.output
    # The CLI's main() turns these errors into exit code 2 with their message.
    usage = runner.invoke(cli_app, ["dlq", "replay"], env=env)
    assert isinstance(usage.exception, UsageError) and usage.exception.exit_code == 2
    missing = runner.invoke(cli_app, ["dlq", "show", "999"], env=env)
    assert isinstance(missing.exception, UsageError)
    assert "revops dlq list" in str(missing.exception)
