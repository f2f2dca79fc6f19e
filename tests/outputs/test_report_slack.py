"""Slack messages through the outbox against a recording webhook server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import report_marts as marts

from revops.outputs import outbox
from revops.outputs.delivery import DeliveryResult, DestinationOutcome
from revops.outputs.reports import (
    notify_completion,
    notify_dq_warning,
    notify_failure,
    render_report,
)


class SlackRecorder:
    """An incoming-webhook stand-in: answers the queued statuses, then 200; records posts."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.posts: list[tuple[int, dict]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status = recorder.statuses.pop(0) if recorder.statuses else 200
                recorder.posts.append((status, body))
                reply = b"ok" if status == 200 else b"internal_error"
                self.send_response(status)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T0/B0/x"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def delivered(self) -> list[dict]:
        return [body for status, body in self.posts if status == 200]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def slack():
    recorder = SlackRecorder()
    yield recorder
    recorder.close()


def _delivery() -> DeliveryResult:
    return DeliveryResult(
        ("local.txt",),
        (
            DestinationOutcome(
                "s3://lake/marketing",
                "store",
                True,
                1,
                (
                    "s3://lake/marketing/a.txt",
                    "s3://lake/marketing/b.csv",
                    "s3://lake/marketing/c.html",
                ),
            ),
            DestinationOutcome(
                "email:cmo@example.test", "email", False, 3, (), "SMTPServerDisconnected: refused"
            ),
        ),
    )


def _text(payload: dict) -> str:
    return json.dumps(payload["blocks"], ensure_ascii=False)


def test_completion_is_retried_after_a_500_and_sent_once(filled, tmp_path, slack):
    slack.statuses = [500]
    settings = marts.make_settings(tmp_path, env={"REVOPS_SLACK__WEBHOOK_URL": slack.url})
    bundle = render_report(filled, settings, marts.DAY, run_id=marts.RUN_ID)
    first = notify_completion(filled, settings, marts.RUN_ID, marts.DAY, bundle, _delivery())
    assert (first.queued, first.status) == (True, "retrying")
    assert "500" in first.last_error
    assert slack.delivered() == []

    later = datetime.now(UTC) + timedelta(minutes=5)
    report = outbox.deliver_pending(filled, {"slack": outbox.slack_sender(slack.url)}, now=later)
    assert report.sent == 1
    (body,) = slack.delivered()
    blocks = _text(body)
    assert "マーケティングデータ統合パイプライン完了" in body["text"]
    assert "ROAS: 335.9% 🚀 素晴らしい!" in blocks
    assert "総広告費: ¥2,450,000" in blocks and "新規顧客: 600人" in blocks
    assert "最高ROASチャネル: *Google* (425.3%)" in blocks
    assert "⚠️ 一部のデータに品質問題あり (crm)" in blocks
    assert "3ファイルを配信済み" in blocks and "s3://lake/marketing/c.html" in blocks
    assert "未配信" in blocks and "email:cmo@example.test" in blocks

    # The pipeline calling again (a retry of the run) does not notify twice.
    again = notify_completion(filled, settings, marts.RUN_ID, marts.DAY, bundle, _delivery())
    assert (again.queued, again.status) == (False, "sent")
    assert len(slack.delivered()) == 1
    audit = [
        r["status"]
        for r in filled.query(
            "SELECT status FROM revops.audit_events WHERE resource = 'notify:slack' ORDER BY \"at\""
        )
    ]
    assert audit == ["retrying", "sent"]

    # ... but an operator can resend it.
    assert outbox.resend(filled, since=later - timedelta(hours=1), kind="completion") == 1
    outbox.deliver_pending(filled, {"slack": outbox.slack_sender(slack.url)})
    assert [b["text"] for b in slack.delivered()] == [body["text"], body["text"]]


def test_without_a_webhook_the_message_waits_in_the_outbox(filled, tmp_path, slack):
    settings = marts.make_settings(tmp_path)
    note = notify_failure(filled, settings, "run-9", "build_marts", RuntimeError("boom"))
    assert (note.queued, note.status) == (True, "pending")
    assert slack.posts == []
    assert outbox.backlog(filled) == {"pending": 1}


def test_failure_alert_names_the_task_and_the_error(filled, tmp_path, slack):
    settings = marts.make_settings(tmp_path, env={"REVOPS_SLACK__WEBHOOK_URL": slack.url})
    error = RuntimeError("could not connect to postgresql://crm:hunter2@10.0.0.5/crm")
    note = notify_failure(filled, settings, "run-7", "extract_customers_from_crm", error)
    assert note.sent
    note_again = notify_failure(filled, settings, "run-7", "extract_customers_from_crm", error)
    assert not note_again.queued
    (body,) = slack.delivered()
    assert "`extract_customers_from_crm`" in _text(body)
    assert "could not connect to postgresql://***@10.0.0.5/crm" in _text(body)
    assert "hunter2" not in json.dumps(body)
    assert "🚨" in body["text"] and "run-7" in body["text"]


def test_dq_warning_only_when_a_check_failed(filled, tmp_path, slack):
    settings = marts.make_settings(tmp_path, env={"REVOPS_SLACK__WEBHOOK_URL": slack.url})
    note = notify_dq_warning(filled, settings, marts.RUN_ID)
    assert note is not None and note.sent and note.key == f"{marts.RUN_ID}:dq_warning"
    (body,) = slack.delivered()
    text = _text(body)
    assert "ads: ✅ PASS (9/9)" in text and "crm: ❌ FAIL (4/5)" in text
    assert "sales: ✅ PASS (7/7)" in text
    assert "crm: expect_column_values_to_be_in_set (acquisition_channel) [warn]" in text
    clean = {"ads": {"passed": True, "expectations": 9, "failed": 0}}
    assert notify_dq_warning(filled, settings, "run-clean", clean) is None
