"""``Clock`` on the system clock, so domain code takes "now" as an input it can be given."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar


class SystemClock:
    """The current time as a timezone-aware UTC datetime."""

    AWS_ACTIONS: ClassVar[tuple[str, ...]] = ()

    def now(self) -> datetime:
        return datetime.now(UTC)
