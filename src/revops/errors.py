"""Errors raised by revops.

Every error the user can see derives from :class:`RevopsError` and carries the offending input,
where it was looked for and a hint on what to do::

    RevopsError
    ├── ConfigError              bad or missing configuration (exit code 2)
    ├── UsageError               bad command-line use (exit code 2)
    ├── SourceError              a source could not be read
    │   ├── TransientSourceError     worth retrying (timeouts, 5xx, 429)
    │   └── TerminalSourceError      retrying will not help (401 after refresh, 404, bad data)
    ├── EventError               one event could not be understood (it goes to dead_letters)
    ├── VerificationError        a signature or token did not verify
    ├── DataQualityError         a blocking data-quality check failed (exit code 3)
    ├── WarehouseError           the warehouse refused or failed
    │   ├── WarehouseLockedError     another process holds the warehouse file
    │   └── ConstraintViolation      an insert broke a key or NOT NULL constraint
    └── DeliveryError            a report or notification could not be delivered

Secrets never appear in messages: callers pass names of settings, not their values.
"""

from __future__ import annotations


class RevopsError(Exception):
    """Root of every revops error; ``exit_code`` is what the CLI exits with."""

    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        input: str | None = None,
        where: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.input = input
        self.where = where
        self.hint = hint

    def __str__(self) -> str:
        parts = [self.message]
        if self.input:
            parts.append(f"input: {self.input}")
        if self.where:
            parts.append(f"where: {self.where}")
        if self.hint:
            parts.append(f"hint: {self.hint}")
        return "\n  ".join(parts)


class ConfigError(RevopsError):
    """The configuration is missing, malformed or holds a value that cannot work."""

    exit_code = 2


class UsageError(RevopsError):
    """The command line was used wrongly."""

    exit_code = 2


class SourceError(RevopsError):
    """A source (API, database, file) could not be read."""


class TransientSourceError(SourceError):
    """A source failure that may go away on retry (timeout, 5xx, rate limit)."""


class TerminalSourceError(SourceError):
    """A source failure that retrying will not fix."""


class EventError(RevopsError):
    """One event could not be understood; ``reason`` is a short machine-readable code."""

    def __init__(
        self, message: str, *, reason: str = "invalid_event", **kwargs: str | None
    ) -> None:
        super().__init__(message, **kwargs)
        self.reason = reason


class VerificationError(RevopsError):
    """A webhook signature, token or HMAC did not verify."""


class DataQualityError(RevopsError):
    """A data-quality check with severity ``block`` failed."""

    exit_code = 3


class WarehouseError(RevopsError):
    """The warehouse refused a statement or could not be reached."""


class WarehouseLockedError(WarehouseError):
    """Another process holds the embedded warehouse file."""


class ConstraintViolation(WarehouseError):
    """An insert broke a primary-key, unique or NOT NULL constraint (the transaction is lost)."""


class DeliveryError(RevopsError):
    """A report, email or notification could not be delivered."""
