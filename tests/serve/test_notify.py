"""Notifications for important events: rules, the outbox, Slack failing then recovering."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from serve_harness import cdc_event, stripe_event, wait_for
from typer.testing import CliRunner

from revops.cli import app as cli_app
from revops.config import Settings
from revops.errors import ConfigError, UsageError
from revops.ingest.loader import land_item
from revops.ingest.receiver import TypeFilter, parse_salesforce, parse_stripe
from revops.notify.rules import NotifyRule, message_for, notify_config
from revops.serve.runtime import ServeRuntime


class SlackRecorder:
    """A local HTTP server standing in for a Slack incoming webhook; records every post and
    answers with the next status of ``statuses`` (then 200)."""

    def __init__(self, statuses: list[int]) -> None:
        self.posts: list[dict] = []
        self.statuses = list(statuses)
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                recorder.posts.append(orjson.loads(self.rfile.read(length)))
                status = recorder.statuses.pop(0) if recorder.statuses else 200
                body = b"ok" if status == 200 else b"internal_error"
                self.send_response(status)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T/B/X"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def slack() -> Iterator[SlackRecorder]:
    recorder = SlackRecorder([500])
    yield recorder
    recorder.close()


def envelope_of(parsed):  # type: ignore[no-untyped-def]
    return land_item(parsed.messages[0]).envelope


def test_default_rules_name_only_their_fields() -> None:
    rules = {r.name: r for r in notify_config(Settings()).rules}
    paid = envelope_of(parse_stripe(stripe_event(7), TypeFilter(["*"])))
    msg = message_for(rules["invoice_paid"], paid)
    assert msg is not None
    assert msg["text"] == ":money_with_wings: invoice in_test_000007 paid: 1200000 jpy"
    assert msg["fields"] == {
        "invoice": "in_test_000007",
        "amount": 1200000,
        "currency": "jpy",
        "customer": "cus_R5mW8Q2nTz1aBc",
    }
    assert "billing@example.co.jp" not in orjson.dumps(msg).decode()
    won = envelope_of(parse_salesforce(cdc_event("006A"), TypeFilter(["*"])))
    assert message_for(rules["opportunity_closed_won"], won)["fields"]["opportunity"] == "006A"  # type: ignore[index]
    assert message_for(rules["opportunity_closed_lost"], won) is None
    lost = envelope_of(parse_salesforce(cdc_event("006B", stage="Closed Lost"), TypeFilter(["*"])))
    assert message_for(rules["opportunity_closed_lost"], lost) is not None
    assert message_for(rules["invoice_paid"], won) is None


def test_rules_are_configurable_by_type_and_field() -> None:
    settings = Settings(
        data={
            "notify": {
                "rules": [
                    {
                        "name": "big_invoice",
                        "types": ["stripe.invoice.*"],
                        "where": {"status": ["paid", "void"], "currency": "jpy"},
                        "fields": {"n": "number"},
                        "text": "invoice {n} ({missing})",
                    }
                ]
            }
        }
    )
    [rule] = notify_config(settings).rules
    paid = envelope_of(parse_stripe(stripe_event(1), TypeFilter(["*"])))
    assert message_for(rule, paid)["text"] == "invoice 7F3A2B1C-0001 (?)"  # type: ignore[index]
    opened = envelope_of(parse_stripe(stripe_event(2, status="open"), TypeFilter(["*"])))
    assert message_for(rule, opened) is None
    with pytest.raises(ConfigError, match=r"notify\.rules\.0\.name"):
        notify_config(Settings(data={"notify": {"rules": [{"name": "Bad Name", "types": ["*"]}]}}))
    assert isinstance(rule, NotifyRule)


def test_slack_500_is_retried_and_never_blocks_ingestion(
    tmp_path: Path,
    duck,  # type: ignore[no-untyped-def]
    slack: SlackRecorder,
) -> None:
    settings = Settings(
        data={
            "notify": {"interval_s": 0.1},
            "loader": {"max_wait_ms": 10},
            "bus": {"url": f"sqlite:///{tmp_path}/bus.sqlite3"},
        },
        env={"REVOPS_SLACK__WEBHOOK_URL": slack.url},
    )
    runtime = ServeRuntime(settings, warehouse=duck, schedule=False)
    runtime.start()
    try:
        body = stripe_event(1)
        runtime.bus.publish(parse_stripe(body, runtime.accept).messages).result()
        wait_for(lambda: len(slack.posts) >= 1)  # answered 500
        # Slack is failing, yet a second event lands at once.
        runtime.bus.publish(
            parse_stripe(
                stripe_event(2, type_="invoice.updated", status="open"), runtime.accept
            ).messages
        ).result()
        wait_for(lambda: duck.query_value("SELECT count(*) FROM revops.events_raw") == 2)
        row = duck.query("SELECT status, attempts FROM revops.notifications_outbox")[0]
        assert row == {"status": "retrying", "attempts": 1}
        wait_for(
            lambda: duck.query_value("SELECT status FROM revops.notifications_outbox") == "sent",
            timeout=20,
        )
    finally:
        runtime.stop()
    assert [p["text"] for p in slack.posts] == [
        ":money_with_wings: invoice in_test_000001 paid: 1200000 jpy"
    ] * 2
    audit = [
        r["status"]
        for r in duck.query(
            "SELECT status FROM revops.audit_events WHERE resource = 'notify:slack' ORDER BY \"at\""
        )
    ]
    assert audit == ["retrying", "sent"]


def test_notify_resend_since_sends_again(tmp_path: Path, slack: SlackRecorder) -> None:
    from revops.outputs.outbox import enqueue
    from revops.warehouse import connect, ensure_schema

    url = f"duckdb:///{tmp_path}/revops.duckdb"
    wh = connect(url)
    ensure_schema(wh)
    enqueue(wh, "invoice_paid:stripe:evt_1", "slack", "invoice_paid", {"text": "paid"})
    wh.execute("UPDATE revops.notifications_outbox SET status = 'sent'")
    wh.close()
    slack.statuses = []
    env = {"REVOPS_WAREHOUSE__URL": url, "REVOPS_SLACK__WEBHOOK_URL": slack.url}
    runner = CliRunner()
    result = runner.invoke(
        cli_app, ["notify", "resend", "--since", "2000-01-01", "--deliver"], env=env
    )
    assert result.exit_code == 0, result.output
    assert "queued 1 notification(s) again" in result.output
    assert "sent 1  failed 0" in result.output
    assert slack.posts == [{"text": "paid"}]
    later = runner.invoke(cli_app, ["notify", "resend", "--since", "2999-01-01"], env=env)
    assert "queued 0" in later.output
    bad = runner.invoke(cli_app, ["notify", "resend", "--since", "yesterday"], env=env)
    assert isinstance(bad.exception, UsageError) and "ISO-8601" in str(bad.exception)
