"""revops: a revenue-operations pipeline from deals, billing and ad spend to KPIs."""

__version__ = "0.1.0"
