"""Timestamps: stored as naive UTC (MySQL DATETIME), shown as ISO 8601 with a Z."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, naive UTC with microseconds."""
    return datetime.now(UTC).replace(tzinfo=None)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC, e.g. 2026-11-25T02:10:00.123456Z."""
    return None if value is None else value.replace(tzinfo=None).isoformat() + "Z"
