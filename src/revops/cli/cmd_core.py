"""Core commands: ``init``, ``ingest``, ``sql``."""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

import typer

from revops.cli import context
from revops.cli.render import FORMATS, echo, render
from revops.errors import UsageError


def init(
    directory: Path = typer.Argument(Path("."), help="Folder to write revops.toml into."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing revops.toml."),
) -> None:
    """Write a commented starter revops.toml."""
    target = directory / "revops.toml"
    if target.exists() and not force:
        raise UsageError(
            "revops.toml already exists", input=str(target), hint="pass --force to overwrite it"
        )
    directory.mkdir(parents=True, exist_ok=True)
    text = resources.files("revops.templates").joinpath("revops.toml").read_text("utf-8")
    target.write_text(text, encoding="utf-8")
    echo(f"wrote {target}\n")


def ingest(
    ctx: typer.Context,
    path: str = typer.Argument(..., help="NDJSON file to read, or - for standard input."),
    source: str = typer.Option(
        None, "--source", help="Read every line as: stripe, salesforce or envelope."
    ),
    fmt: str = typer.Option("table", "--format", help="table or json."),
) -> None:
    """Land NDJSON events (envelopes or native Stripe / Salesforce events).

    Prints read / new / duplicate / dead-lettered counts; exits 1 when any line failed.
    """
    from revops.ingest.files import ingest_lines
    from revops.sources.detect import SOURCE_HINTS

    if source is not None and source not in SOURCE_HINTS:
        raise UsageError(
            f"unknown --source {source!r}", hint="use one of " + ", ".join(SOURCE_HINTS)
        )
    settings = context.settings(ctx)
    max_bytes = int(settings.get("ingest", "max_event_bytes", 1024 * 1024))
    batch = int(settings.get("ingest", "batch_size", 5000))
    known = known_sources(settings)
    with context.warehouse(ctx) as wh:
        if path == "-":
            report = ingest_lines(
                wh,
                sys.stdin.buffer,
                source=source,
                name="stdin",  # type: ignore[arg-type]
                batch_size=batch,
                max_event_bytes=max_bytes,
                known_sources=known,
            )
        else:
            file = Path(path)
            if not file.is_file():
                raise UsageError(
                    "input file not found",
                    input=path,
                    hint="give an NDJSON file or - for standard input",
                )
            with _progress(file) as advance, file.open("rb") as fh:
                report = ingest_lines(
                    wh,
                    fh,
                    source=source,
                    name=str(file),  # type: ignore[arg-type]
                    batch_size=batch,
                    max_event_bytes=max_bytes,
                    progress=advance,
                    known_sources=known,
                )
    if fmt == "json":
        echo(render([report.as_dict()], "json"))
    else:
        echo(
            f"read {report.read}  new {report.new}  duplicates {report.duplicates}  "
            f"dead-lettered {report.dead_lettered}\n"
        )
        for reason, n in sorted(report.reasons.items()):
            echo(f"  dead letter reason {reason}: {n}\n")
        if report.dead_lettered:
            echo("  see them with: revops dlq list\n")
    if not report.ok:
        raise typer.Exit(1)


def known_sources(settings) -> frozenset[str] | None:  # type: ignore[no-untyped-def]
    """Sources accepted in neutral envelopes: ``[ingest] allowed_sources`` (unset: any)."""
    allowed = settings.get("ingest", "allowed_sources")
    if allowed is None:
        return None
    if isinstance(allowed, str):
        allowed = [s.strip() for s in allowed.split(",") if s.strip()]
    return frozenset({"stripe", "salesforce"} | {str(s) for s in allowed})


def sql(
    ctx: typer.Context,
    query: str = typer.Argument(..., help="SQL to run, in the warehouse's own dialect."),
    fmt: str = typer.Option("table", "--format", help="table, csv or json."),
) -> None:
    """Run a query against the warehouse and print its rows."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown --format {fmt!r}", hint="use table, csv or json")
    from revops.warehouse import open_warehouse

    settings = context.settings(ctx)
    with open_warehouse(settings) as wh:
        rows = wh.query(query, native=True)
    echo(render(rows, fmt))


class _progress:
    """A progress bar over a file's bytes on a terminal; silent otherwise."""

    def __init__(self, file: Path) -> None:
        self.file = file
        self.bar = None

    def __enter__(self):  # type: ignore[no-untyped-def]
        if not sys.stderr.isatty():
            return lambda n: None
        from rich.progress import Progress

        self.bar = Progress(transient=True)
        self.bar.start()
        task = self.bar.add_task(f"ingest {self.file.name}", total=self.file.stat().st_size)
        return lambda n: self.bar.advance(task, n)  # type: ignore[union-attr]

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


def register(app: typer.Typer) -> None:
    """Add the core commands to ``app``."""
    app.command("init")(init)
    app.command("ingest")(ingest)
    app.command("sql")(sql)
