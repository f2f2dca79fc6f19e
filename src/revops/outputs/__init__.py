"""Outputs: reports, delivery, notifications and the dashboard."""
