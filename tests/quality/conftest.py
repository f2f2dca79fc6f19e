"""Settings for quality tests: reports under the test's temp folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from revops.config import Settings


def make_settings(tmp_path: Path, **quality: object) -> Settings:
    """Settings with reports in ``tmp_path`` and the given ``[quality]`` values."""
    return Settings(
        data={
            "reports": {"local_dir": str(tmp_path / "reports")},
            "quality": {"data_docs": False, **quality},
        },
        env={},
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings without Data Docs (the tests that need them turn them on)."""
    return make_settings(tmp_path)
