"""Observed state of the AWS resources a release touches (what the ports return)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AliasState(_Frozen):
    """Where an alias points: a primary version and optional extra weighted versions.

    ``weights`` maps every version that receives traffic to its share in percent (0-100], so a
    plain alias on version 43 is ``{"43": 100.0}`` and a 10% canary is ``{"42": 90.0, "43": 10.0}``.
    """

    function: str
    alias: str
    version: str
    extra: dict[str, float] = Field(
        default_factory=dict
    )  # version -> fraction (0..1), as AWS stores it
    revision_id: str = ""

    @property
    def weights(self) -> dict[str, float]:
        extra_pct = {v: round(w * 100.0, 6) for v, w in self.extra.items() if w > 0}
        primary = round(100.0 - sum(extra_pct.values()), 6)
        out = {self.version: primary} if primary > 0 else {}
        out.update(extra_pct)
        return out

    def same_routing(self, other: AliasState) -> bool:
        return self.weights == other.weights


class QueueDepth(_Frozen):
    """SQS approximate counts of one queue."""

    url: str
    visible: int
    in_flight: int
    delayed: int = 0

    @property
    def total(self) -> int:
        return self.visible + self.in_flight + self.delayed


class MetricQuery(_Frozen):
    """One CloudWatch metric statistic to read over a window (an entry of GetMetricData)."""

    id: str = Field(pattern=r"^[a-z][a-zA-Z0-9_]*$")
    namespace: str
    metric: str
    dimensions: dict[str, str]
    stat: str = "Sum"
    period: int = 60


class MetricResult(_Frozen):
    """The datapoints of one query; ``values`` is empty when CloudWatch has none."""

    id: str
    values: list[float] = Field(default_factory=list)
    complete: bool = True
    timestamps: list[datetime] = Field(default_factory=list)
    """The start of each value's period, parallel to ``values`` (empty when not known)."""

    def last_nonzero_period_start(self) -> datetime | None:
        """Start of the latest period whose value is above zero, or None."""
        found = [t for t, v in zip(self.timestamps, self.values, strict=False) if v > 0]
        return max(found) if found else None

    @property
    def total(self) -> float:
        return float(sum(self.values))

    @property
    def maximum(self) -> float | None:
        return max(self.values) if self.values else None
