"""``revops serve``: receiver, bus, loader, continuous transforms and notifier in one process."""
