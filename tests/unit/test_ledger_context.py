"""The stored context read while a writer replaces it (a hotfix round rewrites it while
``rollout watch`` or a sibling child reads it): the reader gets a whole version, old or new,
never "no plan is stored"."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.errors import ReleaseNotFoundError
from orchestrator.release import ledger
from tests.factories import MemoryRecords

RELEASE = "r1"


class RewrittenMidRead(MemoryRecords):
    """Replaces the context with ``newer`` right after a reader took the header and before it
    lists the parts: the interleaving that lost the plan for a moment."""

    def __init__(self, newer: dict[str, Any], times: int = 1) -> None:
        super().__init__()
        self.newer = newer
        self.times = times
        self.armed = False

    def list(self, release: str, prefix: str, limit: int | None = None) -> Any:
        if self.armed and self.times and prefix.startswith(ledger.PART_KIND):
            self.times -= 1
            self.armed = False
            ledger.write_context_document(self, release, self.newer)
            self.newer = {**self.newer, "round": int(self.newer.get("round", 0)) + 1}
            self.armed = True
        return super().list(release, prefix, limit)


@pytest.mark.parametrize("rewrites", [1, 3])
def test_a_context_rewritten_between_header_and_parts_reads_as_the_new_version(
    rewrites: int,
) -> None:
    records = RewrittenMidRead({"plan": "second", "round": 0}, times=rewrites)
    ledger.write_context_document(records, RELEASE, {"plan": "first"})
    records.armed = True
    document = ledger.context_document(records, RELEASE)
    assert document["plan"] == "second"
    assert document["round"] == rewrites - 1  # the last version written, whole


def test_a_header_naming_parts_that_never_come_is_an_error_that_says_so() -> None:
    records = MemoryRecords()
    ledger.write_context_document(records, RELEASE, {"plan": "first"})
    for kind in records.kinds(RELEASE, ledger.PART_KIND):
        records.delete(RELEASE, kind)
    with pytest.raises(ReleaseNotFoundError, match="being rewritten, retry"):
        ledger.context_document(records, RELEASE)
