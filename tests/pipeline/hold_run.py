"""Run the daily pipeline in its own process with a first task that holds until released.

Usage: python -m tests.pipeline.hold_run STARTED_FILE RELEASE_FILE (warehouse from
REVOPS_WAREHOUSE__URL). Exit code: the run's.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from tests.pipeline.conftest import DAY, all_ok

from revops.config import load_settings
from revops.pipeline import daily
from revops.pipeline.graph import TaskContext


def main(started: Path, release: Path) -> int:
    def hold(ctx: TaskContext) -> None:
        started.write_text(ctx.run_id, encoding="utf-8")
        deadline = time.monotonic() + 60
        while not release.exists() and time.monotonic() < deadline:
            ctx.wait(0.02)
        if not release.exists():
            raise TimeoutError("never released")

    settings = load_settings()
    settings.data.setdefault("pipeline", {}).update(retries=0)
    result = daily.run_daily(
        settings, day=DAY, tasks={**all_ok(), daily.EXTRACT_ADS: hold}, on_failure=lambda f: None
    )
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
