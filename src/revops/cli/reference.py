"""The CLI reference (docs/cli.md) generated from the commands themselves.

``python -m revops.cli.reference > docs/cli.md`` rewrites it; a test fails when the file and the
commands disagree.
"""

from __future__ import annotations

import inspect
from typing import Any

import typer.main


def _param_line(param: Any) -> str:
    if param.param_type_name == "argument":
        return f"- `{(param.name or '').upper()}` (argument){_help(param)}"
    names = ", ".join(f"`{n}`" for n in [*param.opts, *param.secondary_opts])
    default = ""
    is_flag = getattr(param, "is_flag", False)
    if not is_flag and param.default not in (None, "", ()):
        default = f" (default: `{param.default}`)"
    return f"- {names}{_help(param)}{default}"


def _help(param: Any) -> str:
    text = getattr(param, "help", None)
    return f": {text}" if text else ""


def _command_doc(cmd: Any, path: list[str], out: list[str]) -> None:
    name = " ".join(path)
    ctx = cmd.context_class(cmd, info_name=name)
    if hasattr(cmd, "list_commands"):
        if len(path) > 1:
            out.append(f"## `{name}`\n")
            out.append(inspect.cleandoc(cmd.help or "") + "\n")
        for sub in sorted(cmd.list_commands(ctx)):
            child = cmd.get_command(ctx, sub)
            if child is not None and not child.hidden:
                _command_doc(child, [*path, sub], out)
        return
    pieces = " ".join(cmd.collect_usage_pieces(ctx))
    out.append(f"## `{name}`\n")
    out.append(f"`{name} {pieces}`\n")
    out.append(inspect.cleandoc(cmd.help or "") + "\n")
    params = [p for p in cmd.params if not getattr(p, "hidden", False) and p.name not in ("help",)]
    if params:
        out.extend(_param_line(p) for p in params)
        out.append("")


def reference() -> str:
    """Markdown for every command, in name order."""
    from revops.cli import app

    root = typer.main.get_command(app)
    out = [
        "# CLI reference",
        "",
        "Generated from the commands (`python -m revops.cli.reference > docs/cli.md`); a test",
        "keeps it true. Global option: `--config PATH` (env `REVOPS_CONFIG`, default",
        "`./revops.toml`). Exit codes: 0 ok, 1 failure, 2 usage or config error, 3 blocked by a",
        "data-quality check.",
        "",
    ]
    _command_doc(root, ["revops"], out)
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    import sys

    sys.stdout.write(reference())
