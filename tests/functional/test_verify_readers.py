"""Who reads a queue and which schemas travel on it, as Verify asks on every look and a drain on
every poll: from an index the release context builds once (a look at 1,000 components used to
scan every component for every queue)."""

from __future__ import annotations

from orchestrator.model.manifest import VersionSpec
from orchestrator.release import ledger
from orchestrator.release.schema_reads import consumers_of
from orchestrator.release.verify import downstream_consumers, readers
from orchestrator.testing import Fakes
from tests.factories import manifest_data

RELEASE = "readers-1"


def brute_force(context: ledger.ReleaseContext, queue: str) -> list[str]:
    """The definition: every component reading ``queue`` in any version the release knows."""
    out = []
    for name, comp in context.manifest.resolved.items():
        specs = [comp.from_, comp.to, *context.known_versions(name).values()]
        if any(queue in spec.reads for spec in specs):
            out.append(name)
    return sorted(out)


def brute_force_schemas(context: ledger.ReleaseContext, queue: str) -> list[str]:
    found: set[str] = set()
    for name, comp in context.manifest.resolved.items():
        for spec in [comp.from_, comp.to, *context.known_versions(name).values()]:
            if queue in spec.writes:
                found.add(str(spec.writes[queue]))
            found.update(str(s) for s in spec.reads.get(queue, ()))
    return sorted(found)


def test_readers_come_from_every_known_version_hotfixes_included() -> None:
    data = manifest_data(
        {
            "ingest": {
                "from": {"version": "42", "writes": {"orders": 1}},
                "to": {"version": "43", "writes": {"orders": 2}},
            },
            "enrich": {"from": {"version": "17", "reads": {"orders": [1, 2]}}},
            "store": {
                "from": {"version": "5", "reads": {"orders": [1]}},
                "to": {"version": "6", "reads": {"orders": [1, 2]}, "writes": {"audit": 1}},
            },
            "audit": {
                "from": {"version": "1", "reads": {}},
                "to": {"version": "2", "reads": {}},
            },
        },
        release=RELEASE,
    )
    fakes = Fakes()
    fakes.plan_release(data)
    before = ledger.load_context(fakes.records, RELEASE)
    assert before.readers_of("orders") == ("enrich", "store")
    assert before.readers_of("audit") == ()
    # a hotfix of audit that reads the audit queue: a new context, a new index
    ledger.add_hotfix(
        fakes.records, RELEASE, "audit", VersionSpec(version="3", reads={"audit": [1]})
    )
    after = ledger.load_context(fakes.records, RELEASE)
    assert after is not before
    for queue in ("orders", "audit", "nowhere"):
        assert list(after.readers_of(queue)) == brute_force(after, queue)
        assert list(after.schemas_on(queue)) == brute_force_schemas(after, queue)
        assert consumers_of(after, queue) == brute_force(after, queue)
    assert after.schemas_on("orders") == ("1", "2")
    assert after.readers_of("audit") == ("audit",)
    assert readers(after, "orders", besides="enrich") == ["store"]
    assert downstream_consumers(after, "ingest", "43") == ["enrich", "store"]
    assert downstream_consumers(after, "store", "6") == ["audit"]
