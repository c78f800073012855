"""The dry run's pure traffic model (``local/traffic_model.py``, ``local/delivery_model.py``),
without moto: traffic per version, schema mix, errors, backlog arithmetic, dead letters,
unreadable deliveries and noise, on the seed release (examples/seed.yaml)."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from orchestrator.local import schema_metrics
from orchestrator.local import traffic_model as model
from orchestrator.local.delivery_model import DeliveryModel
from orchestrator.local.scenario import scenario_from_data
from orchestrator.model.load import load_manifest, manifest_from_data
from orchestrator.model.manifest import Manifest

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
PURE = ("traffic_model", "delivery_model", "schema_metrics", "noise")


@pytest.fixture
def seed() -> Manifest:
    return load_manifest(ROOT / "examples" / "seed.yaml")


def versions(manifest: Manifest, scenario: dict[str, Any] | None = None) -> DeliveryModel:
    return DeliveryModel(
        manifest, scenario_from_data({"noise": False, **(scenario or {})}, manifest)
    )


def window(
    dm: DeliveryModel, weights: dict[str, dict[str, float]], minutes: float = 1.0
) -> tuple[Any, Any, Any]:
    dm.mark_live(weights)
    invocations = model.split_traffic(dm.scenario.traffic_per_minute, minutes, weights)
    fresh = model.messages_written(invocations, dm)
    readers = model.readers_of(weights, dm.manifest.queues, dm)
    return invocations, fresh, readers


# -- no AWS ---------------------------------------------------------------------------------------


def _imports(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
    return out


def test_the_model_imports_no_aws_library_directly_or_through_the_project() -> None:
    """Every module the pure model reaches in the project (package ``__init__`` files aside)
    imports neither boto3, botocore nor moto: unit tests run it without an emulated account."""
    todo = [f"orchestrator.local.{m}" for m in PURE]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        path = ROOT / (name.replace(".", "/") + ".py")
        if name in seen or not path.exists():
            continue
        seen.add(name)
        for target in _imports(path):
            assert target.split(".")[0] not in ("boto3", "botocore", "moto", "mypy_boto3"), (
                f"{name} imports {target}"
            )
            if target.startswith("orchestrator."):
                todo.append(target)
    assert "orchestrator.local.scenario" in seen


def test_importing_the_model_loads_no_moto() -> None:
    code = (
        "import sys\n"
        + "".join(f"import orchestrator.local.{m}\n" for m in PURE)
        + "print(sorted(m for m in sys.modules if m.split('.')[0] == 'moto'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- whole numbers --------------------------------------------------------------------------------


def test_carry_turns_expectations_into_whole_numbers_without_drift() -> None:
    carry = model.Carry()
    assert carry.take(("a",), 600 * 0.1) == 60
    assert [carry.take(("b",), 0.4) for _ in range(5)] == [0, 0, 1, 0, 1]
    assert sum(carry.take(("c",), 1 / 3) for _ in range(300)) == 100
    assert carry.take(("d",), -5.0) == 0
    assert carry.take(("d",), 0.0) == 0


def test_a_window_is_cut_at_whole_minutes() -> None:
    start = START + timedelta(seconds=30)
    pieces = model.minute_buckets(start, start + timedelta(seconds=90))
    assert pieces == [(start, 1 / 3), (START + timedelta(minutes=1), 2 / 3)]
    assert model.minute_buckets(START, START + timedelta(minutes=5))[-1] == (
        START + timedelta(minutes=4),
        0.2,
    )


def test_schemas_sort_numbers_first_then_names() -> None:
    items: list[tuple[int | str, int]] = [("b", 0), (10, 0), (2, 0), ("a", 0)]
    assert [s for s, _ in sorted(items, key=model.schema_order)] == [2, 10, "a", "b"]


# -- traffic and schema mix -----------------------------------------------------------------------


def test_traffic_is_split_by_weight_and_producers_write_their_schema(seed: Manifest) -> None:
    dm = versions(seed)
    weights = {"ingest": {"42": 0.9, "43": 0.1}, "enrich": {"17": 1.0}, "store": {"5": 1.0}}
    invocations, fresh, _ = window(dm, weights, minutes=5.0)
    assert invocations["ingest"] == pytest.approx({"42": 2700.0, "43": 300.0})
    assert invocations["enrich"] == {"17": 3000.0}
    assert dict(fresh["orders"]) == pytest.approx({1: 2700.0, 2: 300.0})
    assert dict(fresh["enriched"]) == {1: 3000.0}


def test_readers_share_a_queue_by_weight_among_the_versions_it_reaches(seed: Manifest) -> None:
    dm = versions(seed)
    weights = {"ingest": {"42": 1.0}, "enrich": {"17": 0.75, "18": 0.25}, "store": {"5": 1.0}}
    _, _, readers = window(dm, weights)
    assert readers["orders"] == {"enrich": {"17": 0.75, "18": 0.25}}
    assert readers["enriched"] == {"store": {"5": 1.0}}
    assert "ingest" not in readers["orders"]


def test_the_mix_a_reader_receives_adds_its_share_of_the_backlog() -> None:
    mix = model.schema_mix({1: 10.0}, [1, 2, 2], reading_components=2)
    assert mix == {1: 10.5, 2: 1.0}
    assert model.schema_mix({}, [3], reading_components=0) == {3: 1.0}


def test_errors_follow_the_error_rate_and_the_schema_mix(seed: Manifest) -> None:
    """The seed story: enrich 18 fails half of the schema-2 messages, ingest 43 writes them."""
    dm = versions(
        seed, {"versions": {"enrich@18": {"errors_on": {"orders": {"2": 0.5}}, "error_rate": 0.1}}}
    )
    weights = {"ingest": {"42": 0.5, "43": 0.5}, "enrich": {"18": 1.0}, "store": {"5": 1.0}}
    invocations, fresh, readers = window(dm, weights)
    errors = model.expected_errors(invocations, fresh, readers, {}, dm)
    # half the traffic is schema 2: 0.1 + 0.9 * 0.5 of it fails, 0.1 of the rest
    assert errors[("enrich", "18")] == pytest.approx(600 * (0.5 * 0.55 + 0.5 * 0.1))
    assert errors[("ingest", "43")] == 0.0  # reads nothing: fails at its error_rate, 0
    assert errors[("store", "5")] == 0.0


def test_a_version_that_omits_a_queue_still_receives_it_under_alias_delivery(
    seed: Manifest,
) -> None:
    data = seed.model_dump(by_alias=True, exclude_none=True)
    data["components"]["enrich"]["to"]["reads"] = {}
    manifest = manifest_from_data(data)
    dm = versions(manifest)
    assert dm.delivered("enrich", "18") == ["orders"]
    assert dm.failure("enrich", "18", "orders", 1) == 1.0  # reads no schema of it
    data["components"]["enrich"]["delivery"] = "per-version"
    dm = versions(manifest_from_data(data))
    assert dm.delivered("enrich", "18") == []
    assert dm.delivered("enrich", "17") == ["orders"]


def test_a_hotfix_handed_over_by_hand_is_known_by_its_declarations(seed: Manifest) -> None:
    dm = versions(seed)
    assert dm.spec_of("enrich", "25") == dm.components["enrich"].from_  # unknown: as from
    dm.learn_hotfix(
        {"component": "enrich", "version": "25", "reads": {"orders": [2]}, "writes": {}}
    )
    assert dm.reads("enrich", "25", "orders", 2)
    assert not dm.reads("enrich", "25", "orders", 1)
    assert dm.failure("enrich", "25", "orders", 1) == 1.0


# -- what becomes of the messages -----------------------------------------------------------------


def test_live_traffic_nobody_can_read_is_unreadable_and_dead_lettered(seed: Manifest) -> None:
    """ingest 43 live while enrich 17 (reads only schema 1) still has weight: a defect."""
    dm = versions(seed)
    weights = {"ingest": {"43": 1.0}, "enrich": {"17": 0.5, "18": 0.5}, "store": {"5": 1.0}}
    _, fresh, readers = window(dm, weights)
    carry = model.Carry()
    settled = model.settle_live_traffic("orders", fresh["orders"], readers, dm, carry, has_dlq=True)
    assert settled == [model.Settled(schema=2, unreadable=300, failed=300)]
    without_dlq = model.settle_live_traffic(
        "orders", fresh["orders"], readers, dm, model.Carry(), has_dlq=False
    )
    assert without_dlq == [model.Settled(schema=2, unreadable=300, failed=0)]


def test_a_release_that_keeps_its_declarations_makes_no_unreadable_delivery(
    seed: Manifest,
) -> None:
    dm = versions(seed)
    carry = model.Carry()
    for weights in (
        {"ingest": {"42": 1.0}, "enrich": {"17": 0.5, "18": 0.5}, "store": {"5": 1.0}},
        {"ingest": {"42": 0.5, "43": 0.5}, "enrich": {"18": 1.0}, "store": {"5": 1.0}},
    ):
        _, fresh, readers = window(dm, weights)
        for queue in seed.queues:
            for outcome in model.settle_live_traffic(
                queue, fresh.get(queue, {}), readers, dm, carry, has_dlq=True
            ):
                assert outcome.unreadable == 0
                assert outcome.failed == 0


def test_backlog_is_worked_off_at_the_drain_rate_and_ages_until_gone() -> None:
    backlog = model.Backlog()
    carry = model.Carry()
    enqueued = START - timedelta(minutes=10)
    assert backlog.start("orders", enqueued) is True
    backlog.add("orders", 1, 100)
    assert backlog.start("orders", enqueued) is False  # seeded before: not sent again
    assert backlog.quota("orders", 60.0, 0.5, carry) == 30
    backlog.worked_off("orders", [1] * 30)
    assert backlog.left("orders") == 70
    assert backlog.oldest_age("orders", START) == 600.0
    assert backlog.quota("orders", 60.0, 5.0, carry) == 70  # never more than is left
    backlog.worked_off("orders", [1] * 70)
    assert backlog.left("orders") == 0
    assert backlog.oldest_age("orders", START) == 0.0
    assert backlog.quota("orders", 60.0, 5.0, carry) == 0


def test_a_queue_emptied_behind_the_simulators_back_has_no_backlog_left() -> None:
    backlog = model.Backlog(remaining={"q": Counter({1: 5, 2: 5})}, enqueued_at={"q": START})
    backlog.worked_off("q", [])
    assert backlog.left("q") == 0


def test_backlog_failures_are_split_between_the_reading_components(seed: Manifest) -> None:
    dm = versions(seed, {"versions": {"enrich@18": {"errors_on": {"orders": {"2": 0.5}}}}})
    weights = {"ingest": {"43": 1.0}, "enrich": {"18": 1.0}, "store": {"5": 1.0}}
    _, _, readers = window(dm, weights)
    carry = model.Carry()
    settled = model.settle_backlog("orders", {1: 40, 2: 20}, readers, dm, carry)
    assert settled == [
        model.Settled(schema=1, unreadable=0, failed=0),
        model.Settled(schema=2, unreadable=0, failed=10),
    ]
    # enrich 17 reads no schema 2: all of it fails, never more than was received
    weights = {"ingest": {"43": 1.0}, "enrich": {"17": 1.0}, "store": {"5": 1.0}}
    _, _, readers = window(versions(seed), weights)
    settled = model.settle_backlog("orders", {2: 7}, readers, versions(seed), model.Carry())
    assert settled == [model.Settled(schema=2, unreadable=7, failed=7)]


# -- Lambda figures and noise ---------------------------------------------------------------------


def test_without_noise_the_figures_are_the_expectations_per_piece_of_minute() -> None:
    expected = model.expected_figures(90.0, 9.0, 2.0, 1.5, 0.5)
    assert expected == {"Invocations": 90.0, "Errors": 9.0, "Throttles": 1.5}
    start = START + timedelta(seconds=30)
    buckets = model.minute_buckets(start, start + timedelta(seconds=90))
    off = model.Noise(enabled=False, seed=0, epoch=START)
    figures = model.figures_per_minute("c", "1", expected, buckets, off, model.Carry())
    assert figures == [
        (start, {"Invocations": 30, "Errors": 3, "Throttles": 0}),
        (START + timedelta(minutes=1), {"Invocations": 60, "Errors": 6, "Throttles": 1}),
    ]


def test_noise_is_a_pure_function_of_seed_series_and_minute_since_the_start() -> None:
    expected = {"Invocations": 300.0, "Errors": 60.0, "Throttles": 0.0}
    noisy = model.Noise(enabled=True, seed=3, epoch=START)
    minutes = [START + timedelta(minutes=m) for m in range(20)]
    forward = [noisy.draw("ingest", "43", expected, t, 1.0) for t in minutes]
    backward = [noisy.draw("ingest", "43", expected, t, 1.0) for t in reversed(minutes)]
    assert forward == backward[::-1]
    counts = [d["Invocations"] for d in forward]
    assert len(set(counts)) > 1 and all(200 < c < 400 for c in counts)
    assert all(0 < d["Errors"] < d["Invocations"] and d["Throttles"] == 0 for d in forward)
    # the same minute since the start, whenever the simulation began: the same draws
    later = model.Noise(enabled=True, seed=3, epoch=START + timedelta(days=3))
    assert later.draw("ingest", "43", expected, START + timedelta(days=3), 1.0) == forward[0]
    other = model.Noise(enabled=True, seed=4, epoch=START)
    assert [other.draw("ingest", "43", expected, t, 1.0) for t in minutes] != forward
    assert noisy.draw("ingest", "43", {**expected, "Invocations": 0.0}, START, 1.0) == {
        "Invocations": 0,
        "Errors": 0,
        "Throttles": 0,
    }


# -- per-schema counts (contracts: true) ----------------------------------------------------------


def test_contract_counts_follow_the_same_model(seed: Manifest) -> None:
    dm = versions(
        seed,
        {"versions": {"enrich@18": {"contracts": True, "errors_on": {"orders": {"2": 0.5}}}}},
    )
    weights = {"ingest": {"42": 0.5, "43": 0.5}, "enrich": {"18": 1.0}, "store": {"5": 1.0}}
    _, fresh, readers = window(dm, weights)
    written: list[tuple[str, list[dict[str, Any]]]] = []

    class Window:
        start = START
        end = START + timedelta(minutes=1)

    count = schema_metrics.publish(
        dm, model.Carry(), Window(), fresh, readers, {}, lambda ns, d: written.append((ns, d))
    )
    assert count == 12  # 2 schemas x 3 counts x 2 dimension sets
    [(namespace, data)] = written
    assert namespace == "Rollout/Contracts"
    per_version = {
        (
            next(d["Value"] for d in p["Dimensions"] if d["Name"] == "SchemaVersion"),
            p["MetricName"],
        ): p["Value"]
        for p in data
        if any(d["Name"] == "ExecutedVersion" for d in p["Dimensions"])
    }
    assert per_version == {
        ("1", "MessagesProcessed"): 300.0,
        ("1", "MessagesFailed"): 0.0,
        ("1", "MessagesUnreadable"): 0.0,
        ("2", "MessagesProcessed"): 150.0,
        ("2", "MessagesFailed"): 150.0,
        ("2", "MessagesUnreadable"): 0.0,
    }
