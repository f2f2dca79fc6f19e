"""The revenue transform: ``events_raw`` → staging → latest-state facts → revenue marts.

Public API: :func:`run_transform` (incremental, ``full`` or ``as_of``), :func:`backfill`,
:func:`refresh_collections` and their :class:`TransformReport`. See ``docs/transform.md``.
"""

from revops.transform.run import TransformReport, backfill, refresh_collections, run_transform

__all__ = ["TransformReport", "backfill", "refresh_collections", "run_transform"]
