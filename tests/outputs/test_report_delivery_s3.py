"""Delivery to s3:// through s3fs against moto's S3 server on 127.0.0.1 (the production path:
only the endpoint URL comes from the config)."""

from __future__ import annotations

import socket

import pytest
import report_marts as marts

from revops.outputs.delivery import deliver_report
from revops.outputs.reports import render_report

BUCKET = "marketing-data-lake"
FAST_FAIL = {
    "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 2, "read_timeout": 5}
}


@pytest.fixture(scope="module")
def s3_endpoint():
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        from servicecheck import service_unavailable

        service_unavailable("moto's S3 server", str(exc))
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(s3_endpoint, monkeypatch):
    import boto3

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    yield client
    for obj in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=obj["Key"])
    client.delete_bucket(Bucket=BUCKET)


def _settings(tmp_path, endpoint, destination=f"s3://{BUCKET}/marketing"):
    return marts.make_settings(
        tmp_path,
        reports={
            "destinations": [destination],
            "s3_endpoint_url": endpoint,
            "storage_options": FAST_FAIL,
        },
    )


def _keys(client):
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def test_report_lands_under_the_seeds_keys(filled, tmp_path, s3, s3_endpoint):
    settings = _settings(tmp_path, s3_endpoint)
    bundle = render_report(filled, settings, marts.DAY, run_id=marts.RUN_ID)
    result = deliver_report(settings, bundle, filled)
    assert result.ok, result.as_dict()
    assert _keys(s3) == [
        "marketing/data/kpi/2026/11/channel_kpi_2026-11-16.csv",
        "marketing/reports/daily/2026/11/marketing_report_2026-11-16.html",
        "marketing/reports/daily/2026/11/marketing_report_2026-11-16.txt",
    ]
    text = s3.get_object(
        Bucket=BUCKET, Key="marketing/reports/daily/2026/11/marketing_report_2026-11-16.txt"
    )
    assert text["Body"].read() == bundle.text_path.read_bytes()
    html = s3.head_object(
        Bucket=BUCKET, Key="marketing/reports/daily/2026/11/marketing_report_2026-11-16.html"
    )
    assert html["ContentType"] == "text/html; charset=utf-8"
    assert result.delivered_files[0] == (
        f"s3://{BUCKET}/marketing/reports/daily/2026/11/marketing_report_2026-11-16.txt"
    )
    audits = filled.query(
        "SELECT action, status, request_id FROM revops.audit_events WHERE action LIKE 'deliver:%'"
    )
    assert audits == [
        {"action": f"deliver:s3://{BUCKET}/marketing", "status": "ok", "request_id": marts.RUN_ID}
    ]

    # Re-rendering and re-delivering the day overwrites the same three objects.
    deliver_report(settings, render_report(filled, settings, marts.DAY), filled)
    assert len(_keys(s3)) == 3


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_s3_down_is_retried_audited_and_reported(filled, tmp_path, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    settings = _settings(tmp_path, f"http://127.0.0.1:{_closed_port()}")
    bundle = render_report(filled, settings, marts.DAY, run_id=marts.RUN_ID)
    result = deliver_report(settings, bundle, filled)
    assert not result.ok
    (failed,) = result.failed
    assert failed.attempts == 3  # retries = 2 in the test settings
    assert failed.files == ()
    assert "connect" in failed.reason.lower()
    statuses = [
        r["status"]
        for r in filled.query(
            "SELECT status FROM revops.audit_events WHERE action LIKE 'deliver:%' ORDER BY \"at\""
        )
    ]
    assert statuses == ["retrying", "retrying", "failed"]
    assert all(p.exists() for _, _, p in bundle.files())  # the report stays on local disk


def test_missing_bucket_is_not_retried(filled_duck, tmp_path, s3, s3_endpoint):
    settings = _settings(tmp_path, s3_endpoint, "s3://no-such-bucket/x")
    result = deliver_report(settings, render_report(filled_duck, settings, marts.DAY), filled_duck)
    (failed,) = result.failed
    assert failed.attempts == 1
    assert "FileNotFoundError" in failed.reason or "NoSuchBucket" in failed.reason


def test_local_folder_destination(filled_duck, tmp_path):
    target = tmp_path / "share"
    settings = marts.make_settings(tmp_path, reports={"destinations": [str(target)]})
    result = deliver_report(settings, render_report(filled_duck, settings, marts.DAY))
    assert result.ok
    assert (target / "data/kpi/2026/11/channel_kpi_2026-11-16.csv").is_file()
    assert (target / "reports/daily/2026/11/marketing_report_2026-11-16.html").is_file()
