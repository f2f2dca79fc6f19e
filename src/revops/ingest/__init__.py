"""Ingest: receiver, bus and loader; landing into ``events_raw`` and ``dead_letters``."""

from revops.ingest.dead_letters import dead_letter
from revops.ingest.land import LandItem, LandResult, land_envelopes

__all__ = ["LandItem", "LandResult", "dead_letter", "land_envelopes"]
