"""``revops demo``: a seeded company run through the pipeline on a fresh DuckDB file."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from revops.config import Settings


@dataclass
class DemoResult:
    """Where the demo wrote things and what it measured."""

    workdir: Path
    warehouse_url: str
    ingest: dict[str, int]
    summary: str
    extra: dict[str, Any] = field(default_factory=dict)


def run_demo(workdir: Path, *, days: int = 180, seed: int = 7, end: date | None = None,
             echo: Any = print) -> DemoResult:
    """Generate the demo company, ingest its deliveries into a fresh DuckDB file in
    ``workdir``, run the transforms and return the summary.

    Deterministic for (days, seed, end); replaces any earlier demo warehouse in ``workdir``.
    """
    from revops.demo.company import Company, deliveries
    from revops.demo.summary import render_summary
    from revops.ingest.files import ingest_lines
    from revops.transform import run_transform
    from revops.warehouse import connect, ensure_schema

    end = end or date.today()
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "revops.duckdb"
    for stale in (db, workdir / "revops.duckdb.wal"):
        stale.unlink(missing_ok=True)
    url = f"duckdb:///{db.resolve()}"
    events = Company(seed=seed, days=days, end=end).run()
    sent = deliveries(events, seed=seed)
    ndjson = workdir / "events.ndjson"
    ndjson.write_bytes(b"\n".join(sent.lines) + b"\n")
    echo(f"generated {sent.events} events over {days} days ({sent.duplicates} redelivered, "
         f"{sent.malformed} malformed) → {ndjson}")
    settings = Settings(data={"warehouse": {"url": url}})
    with connect(url) as wh:
        ensure_schema(wh)
        with ndjson.open("rb") as fh:
            report = ingest_lines(wh, fh, name=str(ndjson), actor="demo")
        echo(f"ingested: read {report.read}, new {report.new}, duplicates "
             f"{report.duplicates}, dead-lettered {report.dead_lettered}")
        tr = run_transform(wh, settings)
        echo(f"transformed {tr.events} events in {tr.seconds:.2f} s")
        summary = render_summary(wh, report.as_dict())
    return DemoResult(workdir, url, report.as_dict(), summary)
