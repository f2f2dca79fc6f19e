"""Ingest: receiver, bus and loader; landing into ``events_raw`` and ``dead_letters``."""

from revops.ingest.land import LandItem, LandResult, land_envelopes
from revops.ingest.dead_letters import dead_letter

__all__ = ["LandItem", "LandResult", "dead_letter", "land_envelopes"]
