"""``from: live`` (issue 13 item 5): a component's ``from`` filled from its live alias (the
AliasReader adapter on moto's Lambda) and the ledger's last release that declared the live
version (the DynamoDB adapter on moto, through ``ReleaseCatalog``); the CLI's dry run fills it
from the scenario's simulated account. Refusals are exit 2 and name the component and the fix."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from orchestrator.aws.store import create_table
from orchestrator.aws.wiring import build_ports
from orchestrator.cli.app import app
from orchestrator.errors import InputError
from orchestrator.local.account_seed import AccountSeeder
from orchestrator.local.engine import EmbeddedEngine
from orchestrator.model.load import manifest_from_data
from orchestrator.model.steps import RunOptions
from orchestrator.planning import plan_release
from orchestrator.ports import Ports
from orchestrator.release import ledger
from orchestrator.release.live_from import fill_from_account, last_declared

ROOT = Path(__file__).resolve().parents[2]
TABLE = "rollout-from-live"
runner = CliRunner()


def seed_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "examples" / "seed.yaml").read_text())
    return data


def live_data(release: str = "2026-11-28.1") -> dict[str, Any]:
    data = seed_data()
    data["release"] = release
    data["components"]["enrich"]["from"] = "live"
    return data


@pytest.fixture
def account(engine: EmbeddedEngine) -> Ports:
    """The seed's functions with their aliases on ``from``, and an empty ledger table."""
    engine.reset()
    create_table(engine.client("dynamodb"), TABLE)
    seeder = AccountSeeder(engine.client)
    manifest = manifest_from_data(seed_data())
    for name, comp in manifest.resolved.items():
        seeder.function(name, comp, ["19"] if name == "enrich" else [comp.to.version or "1"])
    return build_ports(engine.client, table_name=TABLE, topic_arn="")


def store_release(ports: Ports, data: dict[str, Any]) -> None:
    """A past release as the steps store it (its context: manifest, plan, options)."""
    manifest = manifest_from_data(data)
    ledger.save_context(
        ports.records, manifest.release, data, plan_release(manifest), RunOptions(), {}
    )


def fill(ports: Ports, data: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    catalog: Any = ports.records
    return fill_from_account(
        data, manifest_from_data(data), ports.alias_reads, catalog, ports.records
    )


def test_from_live_takes_the_alias_version_and_the_last_releases_declarations(
    account: Ports,
) -> None:
    older = seed_data()
    older["release"] = "2026-11-01.1"
    store_release(account, older)
    filled, how = fill(account, live_data())
    assert filled["components"]["enrich"]["from"] == {
        "version": "17",
        "reads": {"orders": [1]},
        "writes": {"enriched": 1},
    }
    assert [h.contract() for h in how] == [
        {
            "version": "17",
            "alias": "enrich:live",
            "declared_in": "2026-11-01.1",
            "reads": {"orders": [1]},
            "writes": {"enriched": 1},
        }
    ]
    assert how[0].line() == (
        "enrich: from live: version 17 (alias enrich:live at 100%), reads/writes as declared "
        "in release 2026-11-01.1"
    )
    planned = plan_release(manifest_from_data(filled))
    assert planned.waves == [["enrich"], ["ingest"]]  # the seed's plan, as if written out


def test_the_latest_release_declaring_the_live_version_wins(account: Ports) -> None:
    """enrich was promoted to 18 by a release; the alias serves 18 now: 18's declarations (the
    `to` of that release) are taken, not 17's of an older one."""
    old = seed_data()
    old["release"] = "2026-10-01.1"
    store_release(account, old)
    newer = copy.deepcopy(old)
    newer["release"] = "2026-11-01.1"
    newer["components"]["enrich"]["to"]["reads"] = {"orders": [1, 2]}
    store_release(account, newer)
    # the newer one moved something (history orders releases by their first move)
    for release in ("2026-10-01.1", "2026-11-01.1"):
        at = f"{release[:10]}T10:00:00Z"
        account.records.put(release, f"action#{at}#0001#enrich", {"at": at, "component": "enrich"})
    lam = account.aliases
    state = lam.read("enrich", "live")
    lam.set_weights(state, "18", None)
    catalog: Any = account.records
    found = last_declared(catalog, account.records, "enrich", "18")
    assert found is not None
    assert found.release == "2026-11-01.1"
    assert found.spec.reads == {"orders": [1, 2]}
    filled, _ = fill(account, live_data())
    assert filled["components"]["enrich"]["from"]["version"] == "18"


def test_a_mid_shift_alias_is_refused_naming_the_component_and_the_fix(account: Ports) -> None:
    store_release(account, seed_data())
    state = account.aliases.read("enrich", "live")
    account.aliases.set_weights(state, "17", {"18": 0.1})
    with pytest.raises(InputError) as raised:
        fill(account, live_data())
    [issue] = raised.value.issues
    assert issue.path == "components.enrich.from"
    assert "mid-shift (17: 90%, 18: 10%)" in issue.message
    assert "give `from: {version: ..., reads: ..., writes: ...}`" in issue.message


def test_no_history_of_the_live_version_is_refused(account: Ports) -> None:
    with pytest.raises(InputError) as raised:  # an empty ledger
        fill(account, live_data())
    [issue] = raised.value.issues
    assert issue.path == "components.enrich.from"
    assert "no release in the ledger declared enrich@17" in issue.message
    assert 'give `from: {version: "17", reads: ..., writes: ...}`' in issue.message


# -- the CLI --------------------------------------------------------------------------------------


def write(tmp_path: Path, name: str, data: Any) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


LIVE_17 = {
    "live": {
        "enrich": {
            "version": "17",
            "declared": {
                "release": "2026-11-20.1",
                "reads": {"orders": [1]},
                "writes": {"enriched": 1},
            },
        }
    }
}


def rollout(*args: str) -> subprocess.CompletedProcess[str]:
    """The CLI in a process of its own (a dry run starts its own embedded engine)."""
    code = "import sys; from orchestrator.cli.app import main; sys.argv[0] = 'rollout'; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=600
    )


def test_dry_run_fills_from_live_from_the_scenarios_account(tmp_path: Path) -> None:
    manifest = write(tmp_path, "release.yaml", live_data())
    scenario = write(tmp_path, "scenario.yaml", {**LIVE_17, "noise": False})
    result = rollout(
        "dry-run", str(manifest), "-s", str(scenario), "-f", "json", "--progress", "none"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads(result.stdout)
    assert document["status"] == "SUCCEEDED"
    assert document["from_live"] == {
        "enrich": {
            "version": "17",
            "alias": "enrich:live",
            "declared_in": "2026-11-20.1",
            "reads": {"orders": [1]},
            "writes": {"enriched": 1},
        }
    }
    assert document["final"]["enrich"]["version"] == "18"
    assert document["actions"][0]["previous"] == {"17": 100.0}  # the alias the scenario gave
    text = rollout("dry-run", str(manifest), "-s", str(scenario), "--progress", "none")
    assert text.returncode == 0, text.stdout + text.stderr
    assert (
        "enrich: from live: version 17 (alias enrich:live at 100%), reads/writes as declared in "
        "release 2026-11-20.1" in text.stdout
    )


@pytest.mark.parametrize(
    ("live", "path", "words"),
    [
        (
            {"enrich": {"version": "17", "weights": {"18": 10}, "declared": {}}},
            "components.enrich.from",
            "mid-shift (17: 90%, 18: 10%)",
        ),
        ({"enrich": {"version": "17"}}, "components.enrich.from", "no release in the ledger"),
        ({}, "live.enrich", "has no alias for it"),
    ],
)
def test_dry_run_refuses_what_cannot_be_filled_exit_2(
    tmp_path: Path, live: dict[str, Any], path: str, words: str
) -> None:
    manifest = write(tmp_path, "release.yaml", live_data())
    scenario = write(tmp_path, "scenario.yaml", {"live": live} if live else {"noise": False})
    result = runner.invoke(
        app, ["dry-run", str(manifest), "-s", str(scenario), "-f", "json", "--progress", "none"]
    )
    assert result.exit_code == 2, result.output
    [error] = json.loads(result.stdout)["errors"]
    assert error["path"] == path
    assert words in error["message"]


def test_plan_and_validate_say_from_live_is_filled_when_the_release_starts(
    tmp_path: Path,
) -> None:
    manifest = write(tmp_path, "release.yaml", live_data())
    for command in ("plan", "validate"):
        result = runner.invoke(app, [command, str(manifest), "--format", "json"])
        assert result.exit_code == 2, result.output
        [error] = json.loads(result.stdout)["errors"]
        assert error["path"] == "components.enrich.from"
        assert "`rollout start` and `rollout dry-run` fill it" in error["message"]


def test_a_manifest_without_from_live_is_read_as_before() -> None:
    manifest = manifest_from_data(seed_data())
    assert manifest.live_from == []
    assert manifest.component("enrich").from_.version == "17"
    data = live_data()
    data["components"]["enrich"]["from_live"] = True
    with pytest.raises(InputError, match="write `from: live`"):
        manifest_from_data(data)
