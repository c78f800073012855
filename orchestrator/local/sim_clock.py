"""Simulated time of a dry run: a ``Clock`` (the steps' port) that only moves when told to."""

from __future__ import annotations

import math
import threading
from datetime import UTC, datetime, timedelta

__all__ = ["SimClock"]


class SimClock:
    """A ``Clock`` that only moves when told to: simulated time of a dry run.

    Starts at ``start`` (an aware datetime, kept in UTC), by default the current minute. Reading
    and advancing are thread-safe; nothing else moves it.
    """

    def __init__(self, start: datetime | None = None) -> None:
        if start is None:
            start = datetime.now(UTC).replace(second=0, microsecond=0)
        if start.tzinfo is None or start.utcoffset() is None:
            raise ValueError(
                "SimClock needs a timezone-aware start, e.g. datetime(..., tzinfo=UTC)"
            )
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> datetime:
        """Move forward by ``seconds`` (>= 0); returns the new time."""
        if seconds < 0 or math.isnan(seconds):
            raise ValueError(f"simulated time only moves forward, not by {seconds!r} s")
        with self._lock:
            self._now += timedelta(seconds=seconds)
            return self._now
