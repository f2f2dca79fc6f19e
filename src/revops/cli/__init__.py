"""The ``revops`` command line: thin commands over the library.

Each ``cmd_*.py`` module in this package defines ``register(app)``; modules are discovered and
registered in name order, so adding a command never edits a shared list.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer

from revops.cli.context import CliState
from revops.errors import RevopsError

app = typer.Typer(
    name="revops",
    help="revops: revenue operations pipeline (Salesforce, Stripe, ads, CRM, sales CSVs).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root(
    ctx: typer.Context,
    config: str = typer.Option(
        None, "--config", envvar="REVOPS_CONFIG", help="Config file (default ./revops.toml)."
    ),
) -> None:
    """revops: revenue operations pipeline (Salesforce, Stripe, ads, CRM, sales CSVs)."""
    ctx.obj = CliState(config_path=config)


def _register_commands() -> None:
    package = importlib.import_module(__name__)
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("cmd_"):
            module = importlib.import_module(f"{__name__}.{info.name}")
            module.register(app)


_register_commands()


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; a :class:`RevopsError` is printed plainly and sets the exit code."""
    try:
        app(args=argv)
    except RevopsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
