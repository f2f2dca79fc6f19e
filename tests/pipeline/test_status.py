"""``collect_status`` on hand-made rows: freshness, failures, criteria figures and exit code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.pipeline.conftest import ok_task

from revops.outputs.outbox import enqueue
from revops.pipeline.graph import Task
from revops.pipeline.runner import run_graph
from revops.pipeline.status import collect_status

NOW = datetime(2024, 1, 15, 12, 0, tzinfo=UTC)
RAW = (
    "event_id",
    "source",
    "type",
    "event_ts",
    "payload",
    "correlation_id",
    "inserted_at",
    "raw_seq",
)


def at(hh: int, mm: int) -> datetime:
    return datetime(2024, 1, 15, hh, mm, tzinfo=UTC)


def land(wh: Any, *rows: tuple[str, str, str, datetime, str, datetime, int]) -> None:
    wh.insert_rows(
        "revops.events_raw",
        RAW,
        [
            (eid, src, typ, ts, payload, None, ins, seq)
            for eid, src, typ, ts, payload, ins, seq in rows
        ],
    )


def base_events(wh: Any) -> None:
    land(
        wh,
        (
            "stripe:evt_1",
            "stripe",
            "stripe.invoice.paid",
            at(11, 0),
            '{"id":"evt_1"}',
            at(11, 1),
            1,
        ),
        (
            "salesforce:006A:1",
            "salesforce",
            "salesforce.opportunity.updated",
            at(11, 0),
            '{"Id":"006A","StageName":"Closed Won"}',
            at(11, 3),
            2,
        ),
        (
            "stripe:evt_3",
            "stripe",
            "stripe.invoice.created",
            at(10, 0),
            '{"id":"evt_3"}',
            at(11, 0),
            3,
        ),
        # landed two days ago: outside every last-day figure
        (
            "stripe:evt_0",
            "stripe",
            "stripe.invoice.paid",
            at(9, 0) - timedelta(days=2),
            '{"id":"evt_0"}',
            at(9, 0) - timedelta(days=2),
            4,
        ),
    )


def test_healthy_pipeline_meets_every_criterion(wh: Any) -> None:
    base_events(wh)
    wh.execute(
        'INSERT INTO revops.audit_events ("at", actor, resource, action, status) '
        "VALUES (?, 'revops', 'revenue', 'transform', 'ok')",
        (at(11, 5),),
    )
    report = collect_status(wh, now=NOW)
    fresh = {(r["source"], r["type"]): (r["events"], r["avg_delay_s"]) for r in report.freshness}
    assert fresh == {
        ("salesforce", "salesforce.opportunity.updated"): (1, 180.0),
        ("stripe", "stripe.invoice.created"): (1, 3600.0),
        ("stripe", "stripe.invoice.paid"): (1, 60.0),
    }
    crit = {c.name: c for c in report.criteria}
    # both Won->Paid events became visible with the 11:05 transform: received at 11:01 and
    # 11:03, so 240 s and 120 s after receipt
    assert crit["Won→Paid visible (average delay)"].figure == 180.0
    assert crit["Won→Paid visible (average delay)"].display == "3.0 min"
    assert crit["duplicate rate"].figure == 0.0
    assert crit["missing rate"].figure == 0.0
    assert all(c.met for c in report.criteria)
    assert report.exit_code == 0


def test_unhealthy_pipeline_fails_with_figures(wh: Any) -> None:
    base_events(wh)
    land(
        wh,
        (
            "stripe:evt_3b",
            "stripe",
            "stripe.invoice.created",
            at(10, 0),
            '{"id":"evt_3"}',
            at(11, 10),
            5,
        ),
    )
    wh.insert_rows(
        "revops.dead_letters",
        ("id", "received_at", "source", "reason", "body"),
        [(1, at(11, 30), "stripe", "bad_signature", b"{}")],
    )
    wh.execute(
        'INSERT INTO revops.audit_events ("at", actor, resource, action, status) '
        "VALUES (?, 'revops', 'notify:slack', 'completion', 'failed')",
        (at(11, 20),),
    )
    enqueue(wh, "run-1:completion", "slack", "completion", {"text": "done"})
    result = run_graph([Task("only", ok_task)], wh=wh, pipeline="daily")
    report = collect_status(wh, now=NOW)
    crit = {c.name: c for c in report.criteria}
    # no transform since landing: not visible until now (12:00) -> 59 and 57 minutes
    assert crit["Won→Paid visible (average delay)"].display == "58.0 min"
    assert crit["Won→Paid visible (average delay)"].met is False
    assert crit["duplicate rate"].display == "25.000 % (1 of 4)"
    assert crit["missing rate"].display == "20.000 % (1 of 5)"
    assert report.exit_code == 1
    assert [(f["resource"], f["status"], f["n"]) for f in report.failures] == [
        ("notify:slack", "failed", 1)
    ]
    assert [(d["source"], d["reason"], d["n"]) for d in report.dead_letters] == [
        ("stripe", "bad_signature", 1)
    ]
    assert report.notifications == {"pending": 1}
    assert report.runs[0]["run_id"] == result.run_id
    assert [(t["task_id"], t["status"]) for t in report.last_run_tasks] == [("only", "success")]
    assert report.as_dict()["criteria"][1]["met"] is False


def test_no_events_is_no_data_not_failure(wh: Any) -> None:
    report = collect_status(wh, now=NOW)
    assert [c.met for c in report.criteria] == [None, None, None]
    assert report.exit_code == 0
