"""Declarations from code: registrations -> the manifest's reads/writes, and their differences."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from pydantic import BaseModel

from orchestrator.contracts import Component
from orchestrator.contracts.declaration import (
    LoadError,
    compare,
    components_of,
    declare,
    import_target,
    load_component,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "components"


class OrderV1(BaseModel):
    order_id: str


class OrderV2(BaseModel):
    order_id: str
    currency: str


class Enriched(BaseModel):
    order_id: str


def enrich_18() -> Component:
    comp = Component("enrich")
    comp.upgrade("orders", 1, OrderV1, to=2)(lambda o: OrderV2(order_id=o.order_id, currency="G"))

    @comp.reads("orders", 2, OrderV2)
    def handle(order: OrderV2) -> None: ...

    comp.writes("enriched", 1, Enriched)
    return comp


def test_declaration_is_the_to_block() -> None:
    declared = declare(enrich_18())
    assert declared.reads == {"orders": [1, 2]}
    assert declared.writes == {"enriched": 1}
    assert declared.block() == {"reads": {"orders": [1, 2]}, "writes": {"enriched": 1}}
    assert declared.block("18") == {
        "version": "18",
        "reads": {"orders": [1, 2]},
        "writes": {"enriched": 1},
    }
    one, two = declared.routes
    assert (one.path, two.path) == ((1, 2), (2,))
    assert one.handler.endswith("enrich_18.<locals>.handle")
    assert one.model.endswith("OrderV1")
    assert "upgraded 1 -> 2" in one.describe()
    assert declared.writers == {"enriched": f"{__name__}.Enriched"}
    assert declared.problems == []


def test_matching_manifest_block_has_no_differences() -> None:
    declared = declare(enrich_18())
    reads = {"orders": ["2", 1]}  # order and spelling as a manifest may have them
    assert compare(declared, reads, {"enriched": 1}, where="components.enrich.to") == []


def test_every_difference_names_component_queue_and_schema() -> None:
    declared = declare(enrich_18())
    differences = compare(
        declared,
        {"orders": [1, 2, 3], "returns": [1]},
        {"enriched": 2, "audit": 1},
        where="components.enrich.to",
    )
    by_path = {(d.path, d.schema): d.message for d in differences}
    assert by_path == {
        ("components.enrich.to.reads.orders", 3): (
            "the manifest says enrich reads orders schema 3, but the code has no handler and no "
            "upgrade path for it (it reads [1, 2])"
        ),
        ("components.enrich.to.reads.returns", None): (
            "the manifest says enrich reads returns [1], but the code registers no handler on "
            "returns"
        ),
        ("components.enrich.to.writes.audit", 1): (
            "the manifest says enrich writes audit schema 1, but the code declares no writer "
            "for audit"
        ),
        ("components.enrich.to.writes.enriched", 1): (
            f"the manifest says enrich writes enriched schema 2, but the code writes schema 1 "
            f"({__name__}.Enriched)"
        ),
    }


def test_code_that_reads_more_than_the_manifest_lists_is_a_difference_too() -> None:
    declared = declare(enrich_18())
    (difference,) = compare(
        declared, {"orders": [2]}, {"enriched": 1}, where="components.enrich.to"
    )
    assert difference.path == "components.enrich.to.reads.orders"
    assert difference.schema == 1
    assert "the code reads orders schema 1 (orders 1: upgraded 1 -> 2" in difference.message
    assert "but the manifest lists only [2]" in difference.message
    (missing,) = compare(declared, {}, {"enriched": 1}, where="components.enrich.from")
    assert "add `orders: [1, 2]` under reads" in missing.message


def test_a_dangling_upgrade_is_a_problem_not_a_read() -> None:
    comp = Component("enrich")
    comp.upgrade("orders", 1, OrderV1, to=2)(lambda o: o)
    declared = declare(comp)
    assert declared.reads == {}
    assert len(declared.problems) == 1
    assert "reaches no handler" in declared.problems[0]


def test_example_files_load_with_their_sibling_modules() -> None:
    comp = load_component(str(EXAMPLES / "enrich_v18.py"))
    assert comp.name == "enrich"
    assert declare(comp).block() == {"reads": {"orders": [1, 2]}, "writes": {"enriched": 1}}
    assert declare(load_component(str(EXAMPLES / "ingest_v43.py"))).writes == {"orders": 2}


def test_loading_finds_the_named_component_and_explains_what_it_cannot(tmp_path: Path) -> None:
    source = tmp_path / "two_components.py"
    source.write_text(
        textwrap.dedent(
            """
            from orchestrator.contracts import Component
            a = Component("alpha")
            b = Component("beta")
            also_a = a
            """
        )
    )
    module = import_target(str(source))
    assert [c.name for c in components_of(module)] == ["alpha", "beta"]
    assert load_component(str(source), "beta").name == "beta"
    with pytest.raises(LoadError, match="several components"):
        load_component(str(source))
    with pytest.raises(LoadError, match=r"no component named 'gamma' \(it defines alpha, beta\)"):
        load_component(str(source), "gamma")
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    with pytest.raises(LoadError, match="defines no Component"):
        load_component(str(empty))
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('no config')\n")
    with pytest.raises(LoadError, match="raised RuntimeError: no config"):
        load_component(str(broken))
    with pytest.raises(LoadError, match="no such file"):
        load_component(str(tmp_path / "absent.py"))
    with pytest.raises(LoadError, match="ModuleNotFoundError"):
        load_component("no_such_module_anywhere")


def test_dotted_module_names_import_from_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "handlers_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "enrich.py").write_text(
        "from orchestrator.contracts import Component\nenrich = Component('enrich')\n"
    )
    monkeypatch.chdir(tmp_path)
    assert load_component("handlers_pkg.enrich").name == "enrich"
