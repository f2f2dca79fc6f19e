"""Notifications for important events: rules (``[notify]``) feeding the outbox."""

from revops.notify.rules import NotifyConfig, NotifyRule, default_rules, notify_config

__all__ = ["NotifyConfig", "NotifyRule", "default_rules", "notify_config"]
