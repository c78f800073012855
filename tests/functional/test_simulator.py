"""The dry-run simulator against a real embedded engine (moto server).

Every test empties moto first (``engine.reset()``) and seeds its own account, so the order of the
tests does not matter. Figures are read back through the same calls the steps make in production:
``verify.window`` + ``verify.lambda_dimensions`` + ``CloudWatchMetricSource`` for Lambda metrics,
``SqsQueueInspector`` for depths and queue age.
"""

from __future__ import annotations

import copy
import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from orchestrator.aws.metrics import CloudWatchMetricSource
from orchestrator.aws.queue_inspector import SqsQueueInspector
from orchestrator.errors import EnvironmentProblemError, ScenarioError
from orchestrator.local.engine import EmbeddedEngine
from orchestrator.local.scenario import Scenario, load_scenario, scenario_from_data
from orchestrator.local.simulator import SimClock, Simulator
from orchestrator.model.live import MetricQuery
from orchestrator.model.load import load_manifest, manifest_from_data
from orchestrator.model.manifest import Manifest
from orchestrator.release.verify import lambda_dimensions, window

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
START = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


# -- fixtures and helpers -------------------------------------------------------------------------


@pytest.fixture
def account(engine: EmbeddedEngine) -> EmbeddedEngine:
    engine.reset()
    return engine


@pytest.fixture
def seed() -> Manifest:
    return load_manifest(EXAMPLES / "seed.yaml")


def seed_data() -> dict[str, Any]:
    import yaml

    data: dict[str, Any] = yaml.safe_load((EXAMPLES / "seed.yaml").read_text())
    return data


def simulator(
    engine: EmbeddedEngine, manifest: Manifest, scenario: dict[str, Any] | None = None
) -> Simulator:
    # these tests assert the exact expectations: noise off unless a test turns it on
    data = {"noise": False, **(scenario or {})}
    sim = Simulator(manifest, scenario_from_data(data, manifest), engine.client, SimClock(START))
    sim.seed_account()
    return sim


def set_weights(engine: EmbeddedEngine, function: str, base: str, extra: dict[str, float]) -> None:
    engine.client("lambda").update_alias(
        FunctionName=function,
        Name="live",
        FunctionVersion=base,
        RoutingConfig={"AdditionalVersionWeights": extra},
    )


def lambda_figures(
    engine: EmbeddedEngine,
    manifest: Manifest,
    wanted: list[tuple[str, str, str]],
    started_at: datetime,
    now: datetime,
) -> dict[tuple[str, str, str], float]:
    """(component, version, metric) -> Sum, read exactly as release/verify.py reads it."""
    queries = [
        MetricQuery(
            id=f"m{i}",
            namespace="AWS/Lambda",
            metric=metric,
            dimensions=lambda_dimensions(manifest.component(name), version),
            stat="Sum",
            period=60,
        )
        for i, (name, version, metric) in enumerate(wanted)
    ]
    start, end = window(started_at, now)
    results = CloudWatchMetricSource(engine.client("cloudwatch")).query(queries, start, end)
    return {key: results[f"m{i}"].total for i, key in enumerate(wanted)}


def inspector(engine: EmbeddedEngine) -> SqsQueueInspector:
    return SqsQueueInspector(engine.client("sqs"), engine.client("cloudwatch"))


def receive_all(engine: EmbeddedEngine, url: str) -> list[dict[str, Any]]:
    sqs = engine.client("sqs")
    out: list[dict[str, Any]] = []
    while True:
        got = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        ).get("Messages", [])
        if not got:
            return out
        out.extend(got)


def balanced(sim: Simulator) -> None:
    for name, entry in sim.message_ledger().items():
        assert entry["sent"] == entry["consumed"] + entry["queued"] + entry["dead_lettered"], name
    assert sim.ledger_mismatches() == {}


# -- scenarios ------------------------------------------------------------------------------------


def test_no_scenario_is_a_healthy_system_with_empty_queues(seed: Manifest) -> None:
    scenario = scenario_from_data(None, seed)
    assert scenario == Scenario()
    assert scenario.traffic_per_minute == 600
    assert scenario.behaviour("enrich", "18").error_rate == 0
    assert scenario.queue("orders").backlog == {}


@pytest.mark.parametrize(
    ("manifest", "scenario"),
    [
        ("seed.yaml", "seed-healthy.yaml"),
        ("seed.yaml", "seed-enrich-breaks.yaml"),
        ("fanout.yaml", "fanout-drain.yaml"),
    ],
)
def test_example_scenarios_load(manifest: str, scenario: str) -> None:
    loaded = load_scenario(EXAMPLES / "scenarios" / scenario, load_manifest(EXAMPLES / manifest))
    assert loaded.traffic_per_minute == 600


def test_the_seed_story_scenario_says_what_design_says(seed: Manifest) -> None:
    story = load_scenario(EXAMPLES / "scenarios" / "seed-enrich-breaks.yaml", seed)
    assert story.behaviour("enrich", "18").errors_on == {"orders": {2: 0.5}}
    assert set(story.queue("orders").backlog) == {1}
    (hotfix,) = story.hotfixes
    assert hotfix.model_dump() == {
        "component": "enrich",
        "version": "19",
        "reads": {"orders": [1, 2]},
        "writes": {"enriched": 1},
    }


def test_schema_keys_may_be_text_or_numbers(seed: Manifest) -> None:
    scenario = scenario_from_data(
        {
            "versions": {"enrich@18": {"errors_on": {"orders": {2: 0.25, "1": 0.0}}}},
            "queues": {"orders": {"backlog": {"1": 3, 2: 4}}},
        },
        seed,
    )
    assert scenario.behaviour("enrich", "18").errors_on == {"orders": {2: 0.25, 1: 0.0}}
    assert scenario.queue("orders").backlog == {1: 3, 2: 4}


def issues_of(data: Any, manifest: Manifest) -> dict[str, str]:
    with pytest.raises(ScenarioError) as caught:
        scenario_from_data(data, manifest)
    return {issue.path: issue.message for issue in caught.value.issues}


def test_structural_errors_carry_their_paths(seed: Manifest) -> None:
    issues = issues_of(
        {
            "traffic_per_minute": -1,
            "versions": {
                "enrich@18": {"error_rat": 0.1, "errors_on": {"orders": {"2": 1.5}}},
                "ingest@43": {"error_rate": 2},
            },
            "queues": {"orders": {"backlog": {"1": -3}, "drain_per_minute": "fast"}},
            "hotfixes": [{"component": "enrich", "version": "$LATEST"}],
            "surprise": True,
        },
        seed,
    )
    assert set(issues) == {
        "traffic_per_minute",
        "versions.enrich@18.error_rat",
        "versions.enrich@18.errors_on.orders.2",
        "versions.ingest@43.error_rate",
        "queues.orders.backlog.1",
        "queues.orders.drain_per_minute",
        "hotfixes[0].version",
        "surprise",
    }
    assert "did you mean `error_rate`" in issues["versions.enrich@18.error_rat"]
    assert "between 0 and 1" in issues["versions.enrich@18.errors_on.orders.2"]
    assert "$LATEST" in issues["hotfixes[0].version"]


def test_semantic_errors_name_components_versions_and_queues(seed: Manifest) -> None:
    issues = issues_of(
        {
            "versions": {
                "enrik@18": {},
                "enrich@99": {},
                "enrich": {},
                "enrich@18": {"errors_on": {"enriched": {"1": 0.5}, "ordres": {"1": 0.5}}},
                "enrich@19": {"error_rate": 0.1},  # a listed hotfix: fine
            },
            "queues": {"orderz": {"backlog": {"1": 1}}},
            "hotfixes": [
                {"component": "enrich", "version": "19", "reads": {"orders": [1, 2]}},
                {"component": "ingestt", "version": "44"},
                {"component": "ingest", "version": "43"},
                {"component": "ingest", "version": "44", "writes": {"order": 2}},
            ],
        },
        seed,
    )
    assert set(issues) == {
        "versions.enrik@18",
        "versions.enrich",
        "versions.enrich@18.errors_on.ordres",
        "queues.orderz",
        "hotfixes[1].component",
        "hotfixes[2].version",
        "hotfixes[3].writes.order",
    }
    assert "did you mean 'enrich'" in issues["versions.enrik@18"]
    assert "did you mean 'orders'" in issues["queues.orderz"]


def test_behaviours_that_never_apply_are_warnings(seed: Manifest) -> None:
    """A scenario may name versions the release never runs (DESIGN §7a's own example does)."""
    from orchestrator.local.scenario import scenario_warnings

    scenario = scenario_from_data(
        {
            "versions": {
                "enrich@99": {},
                "enrich@18": {"errors_on": {"enriched": {"1": 0.5}}},
            }
        },
        seed,
    )
    warnings = {w.path: w.message for w in scenario_warnings(scenario, seed)}
    assert "known: 17, 18" in warnings["versions.enrich@99"]
    assert "does not read 'enriched'" in warnings["versions.enrich@18.errors_on.enriched"]


def test_the_design_example_scenario_loads_against_the_seed(seed: Manifest) -> None:
    design_example = {
        "traffic_per_minute": 600,
        "versions": {
            "enrich@18": {"error_rate": 0.3},
            "ingest@43": {"throttles_per_minute": 5},
            "store@6": {"errors_on": {"enriched": {"2": 0.5}}},
        },
        "queues": {"orders": {"backlog": {"1": 200}, "drain_per_minute": 1000}},
        "hotfixes": [
            {
                "component": "enrich",
                "version": "19",
                "reads": {"orders": [1, 2]},
                "writes": {"enriched": 1},
            }
        ],
    }
    scenario = scenario_from_data(design_example, seed)
    assert scenario.hotfixes[0].version == "19"


def test_bad_yaml_and_wrong_shapes_are_scenario_errors(seed: Manifest, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("versions: {enrich@18: [\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(broken, seed)
    assert "not valid YAML" in str(caught.value)
    assert "scenario" in str(caught.value)
    with pytest.raises(ScenarioError, match="does not exist"):
        load_scenario(tmp_path / "missing.yaml", seed)
    assert issues_of([1, 2], seed) == {
        "": "a scenario must be a mapping (traffic_per_minute, versions, queues, hotfixes); "
        "got a list"
    }
    assert set(issues_of({"versions": {"enrich@18": 0.5}}, seed)) == {"versions.enrich@18"}
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(ScenarioError, match="is empty"):
        load_scenario(empty, seed)  # an empty file is a mistake; `{}` is a healthy system


# -- the clock ------------------------------------------------------------------------------------


def test_sim_clock_moves_only_when_told() -> None:
    clock = SimClock(START)
    assert clock.now() == START
    assert clock.advance(90) == START + timedelta(seconds=90)
    assert clock.now() == START + timedelta(seconds=90)
    with pytest.raises(ValueError, match="forward"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="timezone-aware"):
        SimClock(datetime(2026, 1, 1))
    default = SimClock().now()
    assert default.second == 0
    assert default.microsecond == 0
    assert default.tzinfo is not None
    assert SimClock(datetime(2026, 1, 1, 13, tzinfo=UTC)).now().utcoffset() == timedelta(0)


def test_sim_clock_is_thread_safe() -> None:
    clock = SimClock(START)

    def run() -> None:
        for _ in range(500):
            clock.advance(1)

    threads = [threading.Thread(target=run) for _ in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert clock.now() == START + timedelta(seconds=1000)


# -- seeding --------------------------------------------------------------------------------------


def test_seed_account_creates_versions_aliases_queues_and_backlog(
    account: EmbeddedEngine, seed: Manifest
) -> None:
    sim = simulator(
        account,
        seed,
        {
            "queues": {"orders": {"backlog": {"1": 7, "2": 3}}},
            "hotfixes": [{"component": "enrich", "version": "19"}],
        },
    )
    lam = account.client("lambda")
    for function, live, needed in (("ingest", "42", 43), ("enrich", "17", 19), ("store", "5", 5)):
        versions = [
            v["Version"]
            for v in lam.list_versions_by_function(FunctionName=function, MaxItems=50)["Versions"]
        ]
        assert str(needed) in versions
        assert lam.get_alias(FunctionName=function, Name="live")["FunctionVersion"] == live
    assert sim.versions_needed("enrich") == ["17", "18", "19"]
    assert [h.version for h in sim.hotfix_versions()] == ["19"]
    assert sim.hotfix_for("enrich") is not None
    assert sim.hotfix_for("enrich", exclude={"19"}) is None
    assert sim.live_weights() == {"ingest": {"42": 1.0}, "enrich": {"17": 1.0}, "store": {"5": 1.0}}

    sqs = account.client("sqs")
    names = {url.rsplit("/", 1)[-1] for url in sqs.list_queues()["QueueUrls"]}
    assert names == {"orders", "orders-dlq", "enriched"}
    orders = seed.queues["orders"]
    policy = json.loads(
        sqs.get_queue_attributes(QueueUrl=orders.url, AttributeNames=["RedrivePolicy"])[
            "Attributes"
        ]["RedrivePolicy"]
    )
    assert policy["deadLetterTargetArn"].endswith(":orders-dlq")
    # the manifest's AWS URL reaches the emulated queue as it is (moto resolves the last segment)
    assert inspector(account).depth(orders.url).visible == 10
    assert sim.queue_url("orders").endswith("/orders")
    assert not sim.queue_url("orders").startswith("https://sqs.eu-west-2")
    schemas = sorted(
        m["MessageAttributes"]["schema"]["StringValue"] for m in receive_all(account, orders.url)
    )
    assert schemas == ["1"] * 7 + ["2"] * 3
    assert sim.message_ledger()["orders"] == {
        "sent": 10,
        "consumed": 0,
        "queued": 10,
        "dead_lettered": 0,
        "unreadable": 0,
    }


def test_seed_account_twice_changes_nothing(account: EmbeddedEngine, seed: Manifest) -> None:
    sim = simulator(account, seed, {"queues": {"orders": {"backlog": {"1": 5}}}})
    sim.seed_account()
    lam = account.client("lambda")
    versions = lam.list_versions_by_function(FunctionName="ingest", MaxItems=50)["Versions"]
    assert max(int(v["Version"]) for v in versions if v["Version"].isdigit()) == 43
    assert inspector(account).depth(seed.queues["orders"].url).visible == 5
    # a second simulator over the same account finds the existing functions and alias
    again = Simulator(seed, Scenario(), account.client, SimClock(START))
    again.seed_account()
    assert again.live_weights()["ingest"] == {"42": 1.0}


def test_tick_needs_a_seeded_account(account: EmbeddedEngine, seed: Manifest) -> None:
    sim = Simulator(seed, Scenario(), account.client, SimClock(START))
    with pytest.raises(EnvironmentProblemError, match="seed_account"):
        sim.tick(60)
    with pytest.raises(ValueError, match="cannot simulate"):
        simulator(account, seed).tick(-5)


# -- Lambda metrics -------------------------------------------------------------------------------


def test_a_canary_gets_its_share_of_the_traffic(account: EmbeddedEngine, seed: Manifest) -> None:
    sim = simulator(account, seed)
    set_weights(account, "ingest", "42", {"43": 0.1})
    started = sim.clock.now()
    report = sim.tick(60)
    assert sim.clock.now() == started + timedelta(seconds=60)
    assert report.invocations[("ingest", "43")] == 60
    assert report.invocations[("ingest", "42")] == 540
    wanted = [
        ("ingest", "43", "Invocations"),
        ("ingest", "42", "Invocations"),
        ("ingest", "43", "Errors"),
        ("ingest", "43", "Throttles"),
        ("enrich", "17", "Invocations"),
    ]
    figures = lambda_figures(account, seed, wanted, started, sim.clock.now())
    assert figures == {
        ("ingest", "43", "Invocations"): 60.0,
        ("ingest", "42", "Invocations"): 540.0,
        ("ingest", "43", "Errors"): 0.0,
        ("ingest", "43", "Throttles"): 0.0,
        ("enrich", "17", "Invocations"): 600.0,
    }
    # a nominal bake of 300 s at 10%: five whole minutes, 300 invocations, nothing lost at the edges
    started = sim.clock.now()
    sim.tick(300)
    figures = lambda_figures(
        account, seed, [("ingest", "43", "Invocations")], started, sim.clock.now()
    )
    assert figures[("ingest", "43", "Invocations")] == 300.0


def test_uneven_windows_keep_exact_totals(account: EmbeddedEngine, seed: Manifest) -> None:
    sim = simulator(account, seed, {"traffic_per_minute": 7})
    set_weights(account, "ingest", "42", {"43": 0.3})
    total = 0
    for seconds in (13, 47, 90, 30, 60):  # 240 s: 28 invocations, 8.4 of them on 43
        total += sim.tick(seconds).invocations[("ingest", "43")]
    assert total == 8
    figures = lambda_figures(
        account, seed, [("ingest", "43", "Invocations")], START, sim.clock.now()
    )
    assert figures[("ingest", "43", "Invocations")] == 8.0


def test_error_rate_and_throttles_follow_the_version(
    account: EmbeddedEngine, seed: Manifest
) -> None:
    sim = simulator(
        account,
        seed,
        {"versions": {"ingest@43": {"error_rate": 0.3, "throttles_per_minute": 5}}},
    )
    set_weights(account, "ingest", "42", {"43": 0.5})
    report = sim.tick(120)
    assert report.invocations[("ingest", "43")] == 600
    assert report.errors[("ingest", "43")] == 180
    assert report.errors[("ingest", "42")] == 0
    assert report.throttles[("ingest", "43")] == 5  # 5/min at 100%, half the traffic, 2 min
    figures = lambda_figures(
        account,
        seed,
        [("ingest", "43", "Errors"), ("ingest", "43", "Throttles")],
        START,
        sim.clock.now(),
    )
    assert figures == {("ingest", "43", "Errors"): 180.0, ("ingest", "43", "Throttles"): 5.0}


def test_errors_on_a_schema_appear_only_once_the_producer_writes_it(
    account: EmbeddedEngine, seed: Manifest
) -> None:
    sim = simulator(account, seed, {"versions": {"enrich@18": {"errors_on": {"orders": {2: 0.5}}}}})
    set_weights(account, "enrich", "18", {})  # enrich promoted in wave 1
    before = sim.tick(300)
    assert before.invocations[("enrich", "18")] == 3000
    assert before.errors[("enrich", "18")] == 0  # ingest 42 writes schema 1 only
    assert before.dead_lettered == {}

    set_weights(account, "ingest", "42", {"43": 0.1})  # wave 2: ingest's canary writes schema 2
    started = sim.clock.now()
    after = sim.tick(60)
    # 10% of the orders are schema 2 and enrich 18 fails half of them
    assert after.errors[("enrich", "18")] == 30
    figures = lambda_figures(
        account,
        seed,
        [("enrich", "18", "Invocations"), ("enrich", "18", "Errors"), ("ingest", "43", "Errors")],
        started,
        sim.clock.now(),
    )
    assert figures == {
        ("enrich", "18", "Invocations"): 600.0,
        ("enrich", "18", "Errors"): 30.0,
        ("ingest", "43", "Errors"): 0.0,
    }
    # the failed messages are real messages in the DLQ, with their schema
    dlq = seed.queues["orders"].dlq_url
    assert dlq is not None
    assert after.dead_lettered == {"orders": 30}
    assert inspector(account).depth(dlq).visible == 30
    balanced(sim)
    messages = receive_all(account, dlq)
    assert {m["MessageAttributes"]["schema"]["StringValue"] for m in messages} == {"2"}

    # the hotfix reads both schemas and is healthy
    sim2_manifest = seed
    hotfixed = Simulator(
        sim2_manifest,
        scenario_from_data(
            {
                "versions": {"enrich@18": {"errors_on": {"orders": {2: 0.5}}}},
                "hotfixes": [{"component": "enrich", "version": "19", "reads": {"orders": [1, 2]}}],
                "noise": False,
            },
            seed,
        ),
        account.client,
        sim.clock,
    )
    hotfixed.seed_account()
    set_weights(account, "enrich", "19", {})
    assert hotfixed.tick(60).errors[("enrich", "19")] == 0


# -- queues ---------------------------------------------------------------------------------------


def test_backlog_is_worked_off_and_its_age_published(
    account: EmbeddedEngine, seed: Manifest
) -> None:
    sim = simulator(
        account,
        seed,
        {
            "queues": {
                "orders": {"backlog": {"1": 50}, "drain_per_minute": 20, "backlog_age_seconds": 600}
            }
        },
    )
    url = seed.queues["orders"].url
    view = inspector(account)
    first = sim.tick(60)
    assert first.drained == {"orders": 20}
    assert view.depth(url).total == 30
    assert view.oldest_age_seconds(url, START, sim.clock.now()) == 660.0
    balanced(sim)
    sim.tick(60)
    cutover = sim.clock.now()
    last = sim.tick(120)
    assert last.drained == {"orders": 10}
    assert view.depth(url).total == 0
    assert view.oldest_age_seconds(url, cutover, sim.clock.now()) == 0.0
    assert sim.message_ledger()["orders"] == {
        "sent": 50,
        "consumed": 50,
        "queued": 0,
        "dead_lettered": 0,
        "unreadable": 0,
    }
    assert sim.tick(60).drained == {}
    balanced(sim)


def test_failed_backlog_messages_move_to_the_dlq(account: EmbeddedEngine, seed: Manifest) -> None:
    sim = simulator(
        account,
        seed,
        {
            "traffic_per_minute": 20,
            "versions": {"enrich@17": {"errors_on": {"orders": {"1": 0.5}}}},
            "queues": {"orders": {"backlog": {"1": 40}, "drain_per_minute": 40}},
        },
    )
    report = sim.tick(60)
    assert report.drained == {"orders": 40}
    # 20 of the 40 backlog messages, and 10 of the 20 live ones (virtual until they fail)
    assert report.dead_lettered == {"orders": 30}
    # invocations stay at traffic_per_minute; their error share follows the mix (all schema 1)
    assert report.errors[("enrich", "17")] == 10
    ledger = sim.message_ledger()
    assert ledger["orders"] == {
        "sent": 40,
        "consumed": 20,
        "queued": 0,
        "dead_lettered": 20,
        "unreadable": 0,
    }
    assert ledger["orders-dlq"] == {
        "sent": 30,
        "consumed": 0,
        "queued": 30,
        "dead_lettered": 0,
        "unreadable": 0,
    }
    balanced(sim)
    dlq = seed.queues["orders"].dlq_url
    assert dlq is not None
    bodies = [json.loads(m["Body"]) for m in receive_all(account, dlq)]
    assert sorted({b["origin"] for b in bodies}) == ["backlog", "orders"]
    assert {b["schema"] for b in bodies} == {1}


def test_a_queue_without_dlq_drops_failed_backlog_as_consumed(
    account: EmbeddedEngine, seed: Manifest
) -> None:
    sim = simulator(
        account,
        seed,
        {
            "versions": {"store@5": {"error_rate": 1.0}},
            "queues": {"enriched": {"backlog": {"1": 5}}},
        },
    )
    report = sim.tick(60)
    assert report.drained == {"enriched": 5}
    assert report.dead_lettered == {}
    assert sim.message_ledger()["enriched"]["consumed"] == 5
    balanced(sim)


# -- the runner's hook ----------------------------------------------------------------------------


def shift_event(nominal: int, *, done: bool = False) -> dict[str, Any]:
    return {
        "release": "r",
        "component": "ingest",
        "shift": {"nominal_bake_seconds": nominal, "bake_seconds": 0, "done": done},
    }


def test_before_step_advances_by_nominal_bakes(account: EmbeddedEngine, seed: Manifest) -> None:
    sim = simulator(account, seed)
    sim.before_step("ValidateAndPlan", {"manifest": {}})
    sim.before_step("PrepareShift", {"release": "r", "component": "ingest"})
    assert sim.clock.now() == START
    sim.before_step("Advance", shift_event(300))
    assert sim.clock.now() == START + timedelta(seconds=300)
    sim.before_step("Advance", shift_event(300, done=True))
    assert sim.clock.now() == START + timedelta(seconds=300)
    figures = lambda_figures(account, seed, [("store", "5", "Invocations")], START, sim.clock.now())
    assert figures[("store", "5", "Invocations")] == 3000.0


def test_parallel_bakes_can_share_simulated_time(account: EmbeddedEngine, seed: Manifest) -> None:
    sim = simulator(account, seed)
    sim.overlap_bakes = True
    bake = shift_event(300)
    bake["shift"]["started_at"] = START.isoformat()
    sim.before_step("Advance", bake)  # the first of two components baking in parallel
    assert sim.clock.now() == START + timedelta(seconds=300)
    sim.before_step("Advance", {**bake, "component": "enrich"})  # its sibling: already baked
    assert sim.clock.now() == START + timedelta(seconds=300)
    rebake = copy.deepcopy(bake)
    rebake["shift"]["inconclusive"] = 1  # the same step baked again after INCONCLUSIVE
    sim.before_step("Advance", rebake)
    assert sim.clock.now() == START + timedelta(seconds=600)
    sim.before_step("Advance", shift_event(60))  # no started_at: a full bake
    assert sim.clock.now() == START + timedelta(seconds=660)
    # every simulated second was simulated once: 11 minutes of traffic, no more
    figures = lambda_figures(account, seed, [("store", "5", "Invocations")], START, sim.clock.now())
    assert figures[("store", "5", "Invocations")] == 6600.0


def test_before_step_ticks_repeat_drain_polls(account: EmbeddedEngine) -> None:
    fanout = load_manifest(EXAMPLES / "fanout.yaml")
    sim = simulator(account, fanout)
    wave2 = {"release": fanout.release, "wave": 1, "components": ["accounts", "api"]}
    wave1 = {"release": fanout.release, "wave": 0, "components": ["billing", "fraud"]}
    sim.before_step("DrainQueues", wave1)  # no drain before wave 1
    sim.before_step("DrainQueues", wave1)
    assert sim.clock.now() == START
    sim.before_step("DrainQueues", wave2)  # the first check: no time has passed
    assert sim.clock.now() == START
    sim.before_step("DrainQueues", wave2)  # a repeat poll: ledger's drain_poll_seconds
    assert sim.clock.now() == START + timedelta(seconds=fanout.queues["ledger"].drain_poll_seconds)
    # an event that carries the drain state is taken at its word
    now = sim.clock.now()
    sim.before_step("DrainQueues", {**wave2, "drain": {"done": False, "nominal_poll_seconds": 30}})
    assert sim.clock.now() == now + timedelta(seconds=30)
    sim.before_step("DrainQueues", {**wave2, "drain": {"done": True, "nominal_poll_seconds": 30}})
    assert sim.clock.now() == now + timedelta(seconds=30)


def test_concurrent_steps_serialise_their_ticks(account: EmbeddedEngine, seed: Manifest) -> None:
    sim = simulator(account, seed)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            sim.before_step("Advance", shift_event(60))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sim.clock.now() == START + timedelta(minutes=4)
    wanted = [("ingest", "42", "Invocations")]
    figures = lambda_figures(account, seed, wanted, START, sim.clock.now())
    assert figures[("ingest", "42", "Invocations")] == 2400.0


def test_the_same_run_gives_the_same_figures(engine: EmbeddedEngine, seed: Manifest) -> None:
    scenario = {
        "traffic_per_minute": 37,
        "versions": {"enrich@18": {"errors_on": {"orders": {2: 0.3}}, "error_rate": 0.05}},
        "queues": {"orders": {"backlog": {"1": 15, "2": 6}, "drain_per_minute": 4}},
    }

    def run() -> list[Any]:
        engine.reset()
        sim = simulator(engine, seed, copy.deepcopy(scenario))
        set_weights(engine, "enrich", "17", {"18": 0.35})
        set_weights(engine, "ingest", "42", {"43": 0.2})
        reports = [sim.tick(s) for s in (45, 120, 300, 15)]
        return [
            (r.invocations, r.errors, r.drained, r.dead_lettered, r.oldest_age_seconds)
            for r in reports
        ] + [sim.message_ledger()]

    assert run() == run()


def test_seed_manifest_variants_with_unchanged_components(account: EmbeddedEngine) -> None:
    data = seed_data()
    del data["components"]["store"]["to"]  # declared unchanged: from only
    manifest = manifest_from_data(data)
    sim = simulator(account, manifest)
    report = sim.tick(60)
    assert report.invocations[("store", "5")] == 600


# -- delivery and unreadable deliveries -----------------------------------------------------------


def dropping_manifest(delivery: str | None = None) -> Manifest:
    """src writes q (schema 1); sink@1 reads it, sink@2 drops the queue from its spec."""
    from tests.factories import manifest_data

    sink: dict[str, Any] = {
        "from": {"version": "1", "reads": {"q": [1]}},
        "to": {"version": "2", "writes": {"out": 1}},
    }
    if delivery is not None:
        sink["delivery"] = delivery
    data = manifest_data(
        {"src": {"from": {"version": "1", "writes": {"q": 1}}}, "sink": sink}, release="drop"
    )
    data["queues"]["q"]["dlq_url"] = data["queues"]["q"]["url"] + "-dlq"
    return manifest_from_data(data)


def test_alias_delivery_reaches_a_version_that_omits_the_queue(account: EmbeddedEngine) -> None:
    """The event source mapping targets the alias: sink@2 gets its share of q, reads none of it."""
    manifest = dropping_manifest()
    sim = simulator(account, manifest)
    assert sim.delivered("sink", "2") == ["q"]
    set_weights(account, "sink", "1", {"2": 0.25})
    report = sim.tick(60)
    # 600 schema-1 messages on q; a quarter reach sink@2, which does not read q at all
    assert report.unreadable == {"q": 150}
    assert report.errors[("sink", "2")] == 150  # every delivery it cannot read fails
    assert report.errors[("sink", "1")] == 0
    assert report.dead_lettered == {"q": 150}
    ledger = sim.message_ledger()
    assert ledger["q"]["unreadable"] == 150  # a queue with live traffic only: still reported
    assert (ledger["q"]["sent"], ledger["q"]["queued"]) == (0, 0)
    assert ledger["q-dlq"] == {
        "sent": 150,
        "consumed": 0,
        "queued": 150,
        "dead_lettered": 0,
        "unreadable": 0,
    }
    assert ledger["out"]["unreadable"] == 0
    balanced(sim)


def test_per_version_delivery_keeps_a_version_off_the_queue_it_omits(
    account: EmbeddedEngine,
) -> None:
    manifest = dropping_manifest("per-version")
    sim = simulator(account, manifest)
    assert sim.delivered("sink", "2") == []
    assert sim.delivered("sink", "1") == ["q"]
    set_weights(account, "sink", "1", {"2": 0.25})
    report = sim.tick(60)
    assert report.unreadable == {}
    assert report.errors[("sink", "2")] == 0
    assert report.dead_lettered == {}
    assert sim.message_ledger()["q"]["unreadable"] == 0


def test_an_unread_schema_is_unreadable_and_fails(account: EmbeddedEngine, seed: Manifest) -> None:
    """ingest@43's canary writes schema 2 while enrich is still on 17 (reads orders [1] only)."""
    sim = simulator(account, seed, {"traffic_per_minute": 70})
    set_weights(account, "ingest", "42", {"43": 0.1})
    reports = [sim.tick(60) for _ in range(3)]
    # 7 schema-2 messages a minute, all delivered to enrich@17: no scenario failure is needed
    assert [r.unreadable for r in reports] == [{"orders": 7}] * 3
    assert [r.errors[("enrich", "17")] for r in reports] == [7, 7, 7]
    assert sum(r.dead_lettered["orders"] for r in reports) == 21
    assert sim.message_ledger()["orders"]["unreadable"] == 21
    # once enrich reads schema 2 nothing is unreadable
    set_weights(account, "enrich", "18", {})
    assert sim.tick(60).unreadable == {}
    balanced(sim)


def test_unreadable_backlog_and_fractions_carry_over(
    account: EmbeddedEngine, seed: Manifest
) -> None:
    """Backlog deliveries count too, and fractional expectations become exact whole numbers."""
    sim = simulator(
        account,
        seed,
        {
            "traffic_per_minute": 10,
            "queues": {"orders": {"backlog": {"1": 9, "2": 9}, "drain_per_minute": 6}},
        },
    )
    set_weights(account, "enrich", "17", {"18": 1 / 3})  # enrich@17 reads [1], enrich@18 [1, 2]
    total = 0
    for _ in range(3):
        report = sim.tick(60)
        total += report.unreadable.get("orders", 0)
    # 18 backlog messages received, 9 of schema 2; two thirds of those reach enrich@17: 6
    ledger = sim.message_ledger()["orders"]
    assert ledger["sent"] == ledger["consumed"] + ledger["dead_lettered"] == 18
    assert total == ledger["unreadable"] == 6
    assert ledger["dead_lettered"] == 6  # orders has a DLQ: each unreadable message lands there
    balanced(sim)


def test_no_unreadable_delivery_in_the_seed_story_windows(
    account: EmbeddedEngine, seed: Manifest
) -> None:
    """The seed's own mix (enrich promoted first, then ingest's canary) is readable throughout."""
    sim = simulator(account, seed, {"queues": {"orders": {"backlog": {"1": 30}}}})
    for enrich, ingest in (({"18": 0.1}, {}), ({}, {}), ({}, {"43": 0.5})):
        set_weights(account, "enrich", "18" if not enrich else "17", enrich)
        set_weights(account, "ingest", "42", ingest)
        assert sim.tick(60).unreadable == {}
    assert all(entry["unreadable"] == 0 for entry in sim.message_ledger().values())


def test_a_hotfix_handed_over_by_hand_is_simulated_as_it_declares(
    account: EmbeddedEngine, seed: Manifest
) -> None:
    """enrich@20 is not in the manifest or the scenario: ApplyHotfix's input says what it reads."""
    sim = simulator(account, seed)
    assert sim.spec_of("enrich", "20") == seed.component("enrich").from_  # unknown: as `from`
    hotfix = {"component": "enrich", "version": "20", "reads": {"orders": [1, 2]}, "writes": {}}
    sim.before_step("ApplyHotfix", {"release": "r", "component": "enrich", "hotfix": hotfix})
    assert sim.clock.now() == START  # no simulated time
    assert sim.spec_of("enrich", "20").reads == {"orders": [1, 2]}
    assert sim.reads("enrich", "20", "orders", 2)
    # a hotfix the scenario or the manifest knows keeps its own declarations
    sim.learn_hotfix({"component": "enrich", "version": "18", "reads": {"orders": [3]}})
    assert sim.spec_of("enrich", "18").reads == {"orders": [1, 2]}
    sim.learn_hotfix({"component": "nobody", "version": "1"})  # ignored
    sim.learn_hotfix({"component": "enrich", "version": "$LATEST"})  # refused by ApplyHotfix


def test_a_hotfix_mapping_counts_once_the_hotfix_is_live(
    account: EmbeddedEngine, seed: Manifest
) -> None:
    """A scenario hotfix that starts reading a new queue changes delivery only once it ships."""
    sim = simulator(
        account,
        seed,
        {
            "hotfixes": [
                {
                    "component": "enrich",
                    "version": "19",
                    "reads": {"orders": [1, 2], "enriched": [1]},
                    "writes": {"enriched": 1},
                }
            ]
        },
    )
    set_weights(account, "enrich", "18", {})
    assert sim.tick(60).unreadable == {}  # 19 never live yet: no mapping on `enriched`
    assert sim.delivered("enrich", "18") == ["orders"]
    set_weights(account, "enrich", "18", {"19": 0.1})
    report = sim.tick(60)
    # enrich@19's mapping on `enriched` reaches the alias: enrich@18 (90%) reads none of it
    assert sim.delivered("enrich", "18") == ["orders", "enriched"]
    assert report.unreadable == {"enriched": 540}
    set_weights(account, "enrich", "18", {})  # pulled back: the mapping stays
    assert sim.tick(60).unreadable == {"enriched": 600}


# -- noise -----------------------------------------------------------------------------------------


def test_noise_is_seeded_and_the_same_whatever_the_tick_order(
    account: EmbeddedEngine, seed: Manifest
) -> None:
    """Poisson invocations and binomial errors around the expectations, a pure function of the
    seed, the series and the piece of minute: the same seed gives the same figures (whichever
    simulator, thread or order draws them), another seed others."""
    scenario = {"noise": {"seed": 3}, "versions": {"ingest@43": {"error_rate": 0.2}}}
    sim = simulator(account, seed, scenario)
    set_weights(account, "ingest", "42", {"43": 0.5})
    ticks = [sim.tick(60) for _ in range(5)]
    counts = [r.invocations[("ingest", "43")] for r in ticks]
    errors = [r.errors[("ingest", "43")] for r in ticks]
    assert counts != [300] * 5  # not the exact expectations
    assert all(200 < c < 400 for c in counts)
    assert all(0 < e < c for e, c in zip(errors, counts, strict=True))

    def draws(noise_seed: int) -> list[tuple[int, int]]:
        data = {**scenario, "noise": {"seed": noise_seed}}
        other = Simulator(seed, scenario_from_data(data, seed), account.client, SimClock(START))
        expected = {"Invocations": 300.0, "Errors": 60.0, "Throttles": 0.0}
        out = []
        for minute in reversed(range(5)):  # another order: the same draws
            drawn = other.noise.draw(
                "ingest", "43", expected, START + timedelta(minutes=minute), 1.0
            )
            out.append((drawn["Invocations"], drawn["Errors"]))
        return out[::-1]

    assert draws(3) == list(zip(counts, errors, strict=True))
    assert draws(4) != draws(3)
