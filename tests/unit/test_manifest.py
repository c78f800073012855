"""Every validation rule of the manifest, each error with its path and a fix."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from orchestrator.errors import ManifestError
from orchestrator.model.load import load_manifest, manifest_from_data, manifest_from_text


def errors_of(data: Any) -> dict[str, str]:
    with pytest.raises(ManifestError) as info:
        manifest_from_data(data)
    return {issue.path: issue.message for issue in info.value.issues}


def mutate(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(data)
    node = out
    keys = path.split(".")
    for key in keys[:-1]:
        node = node[key]
    if value is ...:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return out


def test_seed_is_valid_and_defaults_are_merged(seed_data: dict[str, Any]) -> None:
    manifest = manifest_from_data(seed_data)
    enrich = manifest.component("enrich")
    assert enrich.alias == "live"
    assert enrich.strategy.steps == (10, 50, 100)
    assert enrich.strategy.bake_seconds == 300
    assert enrich.gates.max_error_rate == 0.01
    assert enrich.gates.min_invocations == 20
    assert manifest.on_failure == "roll-forward"
    assert manifest.hotfix_timeout_seconds == 86400
    assert manifest.component("store").unchanged
    assert not manifest.component("ingest").unchanged


def test_component_overrides_part_of_defaults(seed_data: dict[str, Any]) -> None:
    seed_data["defaults"] = {
        "alias": "prod",
        "strategy": {"steps": [5, 100], "bake_seconds": 60},
        "gates": {"max_error_rate": 0.05, "alarms": ["a"]},
    }
    seed_data["components"]["enrich"]["strategy"] = {"bake_seconds": 10}
    seed_data["components"]["enrich"]["gates"] = {"min_invocations": 1}
    seed_data["components"]["enrich"]["alias"] = "canary"
    manifest = manifest_from_data(seed_data)
    enrich, ingest = manifest.component("enrich"), manifest.component("ingest")
    assert enrich.strategy.steps == (5, 100)
    assert enrich.strategy.bake_seconds == 10
    assert enrich.gates.max_error_rate == 0.05
    assert enrich.gates.min_invocations == 1
    assert enrich.gates.alarms == ("a",)
    assert enrich.alias == "canary"
    assert ingest.alias == "prod"
    assert ingest.strategy.bake_seconds == 60


def test_versions_as_numbers_and_schemas_as_text_are_normalised(
    seed_data: dict[str, Any],
) -> None:
    seed_data["components"]["ingest"]["to"] = {"version": 43, "writes": {"orders": "2"}}
    manifest = manifest_from_data(seed_data)
    assert manifest.component("ingest").to.version == "43"
    assert manifest.component("ingest").to.writes == {"orders": 2}


def test_omitted_to_means_unchanged_and_omitted_from_version_is_read_later(
    seed_data: dict[str, Any],
) -> None:
    del seed_data["components"]["store"]["to"]
    seed_data["components"]["store"]["from"].pop("version")
    seed_data["components"]["ingest"]["from"].pop("version")
    manifest = manifest_from_data(seed_data)
    assert manifest.component("store").unchanged
    assert manifest.component("ingest").from_.version is None
    assert not manifest.component("ingest").unchanged


@pytest.mark.parametrize(
    ("path", "value", "error_path", "words"),
    [
        ("release", "bad id!", "release", "letters, digits"),
        ("release", "x" * 81, "release", "1-80"),
        ("release", "", "release", "1-80"),
        ("release", ..., "release", "missing"),
        ("components", {}, "components", "at least one component"),
        ("components", ..., "components", "missing"),
        ("components.ingest.to.version", "$LATEST", "components.ingest.to.version", "$LATEST"),
        ("components.ingest.to.version", "live", "components.ingest.to.version", "alias"),
        ("components.ingest.to.version", "", "components.ingest.to.version", "empty"),
        ("components.ingest.to.version", "0", "components.ingest.to.version", "published"),
        ("components.ingest.to.version", True, "components.ingest.to.version", "published"),
        ("components.ingest.to.version", ..., "components.ingest.to.version", "missing"),
        ("components.ingest.function", ..., "components.ingest.function", "missing"),
        ("components.ingest.function", "has space", "components.ingest.function", "name"),
        (
            "components.ingest.function",
            "arn:aws:lambda:eu-west-2:111122223333:function:ingest:live",
            "components.ingest.function",
            "without a qualifier",
        ),
        ("components.ingest.from", ..., "components.ingest.from", "missing"),
        ("components.ingest.alias", "$LATEST", "components.ingest.alias", "alias name"),
        ("components.ingest.alias", "12", "components.ingest.alias", "not only digits"),
        (
            "components.enrich.to.reads",
            {"orders": []},
            "components.enrich.to.reads",
            "empty",
        ),
        (
            "components.enrich.to.reads",
            {"orders": "1"},
            "components.enrich.to.reads.orders",
            "list",
        ),
        (
            "components.enrich.to.writes",
            {"enriched": [1]},
            "components.enrich.to.writes.enriched",
            "schema version",
        ),
        (
            "components.enrich.to.reads",
            {"ordres": [1]},
            "components.enrich.to.reads.ordres",
            "did you mean 'orders'",
        ),
        (
            "components.ingest.to.writes",
            {"nope": 1},
            "components.ingest.to.writes.nope",
            "not declared",
        ),
        (
            "components.ingest.strategy",
            {"steps": [10, 50]},
            "components.ingest.strategy.steps",
            "must be 100",
        ),
        (
            "components.ingest.strategy",
            {"steps": [50, 10, 100]},
            "components.ingest.strategy.steps",
            "strictly increasing",
        ),
        (
            "components.ingest.strategy",
            {"steps": [0, 100]},
            "components.ingest.strategy.steps",
            "(0, 100]",
        ),
        (
            "components.ingest.strategy",
            {"steps": [10, 150]},
            "components.ingest.strategy.steps",
            "(0, 100]",
        ),
        (
            "components.ingest.strategy",
            {"steps": []},
            "components.ingest.strategy.steps",
            "at least one",
        ),
        (
            "components.ingest.strategy",
            {"bake_seconds": -1},
            "components.ingest.strategy.bake_seconds",
            "greater than or equal",
        ),
        (
            "components.ingest.gates",
            {"max_error_rate": 1.5},
            "components.ingest.gates.max_error_rate",
            "less than or equal",
        ),
        (
            "components.ingest.gates",
            {"max_throttles": -1},
            "components.ingest.gates.max_throttles",
            "greater than or equal",
        ),
        (
            "components.ingest.gates",
            {"min_invocations": 0},
            "components.ingest.gates.min_invocations",
            "greater than or equal to 1",
        ),
        (
            "components.ingest.gates",
            {"alarms": [{"name": "a", "insufficient_data": "maybe"}]},
            "components.ingest.gates.alarms[0].insufficient_data",
            "'inconclusive', 'ok' or 'failed'",
        ),
        (
            "components.ingest",
            {"delivery": "sometimes"},
            "components.ingest.delivery",
            "'alias' or 'per-version'",
        ),
        (
            "components.ingest.gates",
            {"min_invocations": "many"},
            "components.ingest.gates.min_invocations",
            "integer",
        ),
        (
            "components.ingest.gates",
            {"max_error": 0.1},
            "components.ingest.gates.max_error",
            "did you mean `max_errors`",
        ),
        ("on_failure", "rollback", "on_failure", "roll-forward"),
        ("hotfix_timeout_seconds", 0, "hotfix_timeout_seconds", "greater than"),
        ("hotfix_timeout_seconds", 10**9, "hotfix_timeout_seconds", "less than or equal"),
        ("queues.orders.url", "orders", "queues.orders.url", "queue URL"),
        ("queues.orders", {"dlq_url": "https://x/q"}, "queues.orders.url", "missing"),
        ("releas", "x", "releas", "did you mean `release`"),
    ],
)
def test_each_rule_names_its_path(
    seed_data: dict[str, Any], path: str, value: Any, error_path: str, words: str
) -> None:
    errors = errors_of(mutate(seed_data, path, value))
    assert error_path in errors, errors
    assert words in errors[error_path]


def test_all_errors_are_reported_at_once(seed_data: dict[str, Any]) -> None:
    data = mutate(seed_data, "release", "bad id!")
    data = mutate(data, "components.ingest.to.version", "$LATEST")
    data = mutate(data, "components.enrich.to.reads", {"nope": [1]})
    data = mutate(data, "on_failure", "rollback")
    errors = errors_of(data)
    assert {
        "release",
        "components.ingest.to.version",
        "components.enrich.to.reads.nope",
        "on_failure",
    } <= set(errors)


def test_cross_field_rules(seed_data: dict[str, Any]) -> None:
    data = copy.deepcopy(seed_data)
    data["components"]["store"]["to"]["reads"] = {"enriched": [1, 2]}
    data["components"]["twin"] = copy.deepcopy(data["components"]["ingest"])
    data["queues"]["enriched"]["dlq_url"] = data["queues"]["enriched"]["url"]
    data["queues"]["copy"] = {"url": data["queues"]["orders"]["url"]}
    errors = errors_of(data)
    assert "a published version cannot change" in errors["components.store.to"]
    assert "already released by component 'ingest'" in errors["components.twin.function"]
    assert "must differ" in errors["queues.enriched.dlq_url"]
    assert "same URL" in errors["queues.copy.url"]


def test_function_arn_and_name_are_the_same_function(seed_data: dict[str, Any]) -> None:
    data = copy.deepcopy(seed_data)
    data["components"]["twin"] = copy.deepcopy(data["components"]["ingest"])
    data["components"]["twin"]["function"] = "arn:aws:lambda:eu-west-2:111122223333:function:ingest"
    assert "twin" in " ".join(errors_of(data)) or errors_of(data)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("release: [unclosed", "not valid YAML"),
        ("release: r\ncomponents:\n  a: {function: a\n", "not valid YAML"),
        ("", "empty"),
        ("- a\n- b\n", "list"),
        ("just text", "str"),
        ('{"release": "r", "release": "s", "components": {}}', "duplicate key"),
    ],
)
def test_documents_that_are_not_manifests(text: str, words: str) -> None:
    with pytest.raises(ManifestError) as info:
        manifest_from_text(text)
    assert words in str(info.value)


def test_duplicate_yaml_keys_are_errors_with_their_path() -> None:
    text = """
release: r1
queues: {q: {url: "https://sqs.x/1/q"}}
components:
  a: {function: a, from: {version: "1", writes: {q: 1}}}
  a: {function: b, from: {version: "1", writes: {q: 1}}}
"""
    with pytest.raises(ManifestError) as info:
        manifest_from_text(text)
    assert info.value.issues[0].path == "components.a"
    assert "duplicate key" in info.value.issues[0].message


def test_release_that_looks_like_a_date_stays_text() -> None:
    text = """
release: 2026-11-28
queues: {q: {url: "https://sqs.x/1/q"}}
components:
  a: {function: a, from: {version: "1", writes: {q: 1}}, to: {version: "2", writes: {q: 1}}}
"""
    assert manifest_from_text(text).release == "2026-11-28"


def test_json_manifests_load(tmp_path: Any, seed_data: dict[str, Any]) -> None:
    path = tmp_path / "m.json"
    path.write_text(json.dumps(seed_data))
    assert load_manifest(path).release == "2026-11-28.1"


def test_missing_file_is_an_input_error(tmp_path: Any) -> None:
    with pytest.raises(ManifestError) as info:
        load_manifest(tmp_path / "nope.yaml")
    assert "does not exist" in str(info.value)
