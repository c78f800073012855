"""The README's command table and the on-call pages say what the CLI does (issue 9).

``tests/workflow/test_runbooks.py`` parses and runs the pages' commands; this checks the claims
around them that the issue found false, and that every command of the CLI is in the table.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer

from orchestrator.cli.app import app

ROOT = Path(__file__).resolve().parents[2]
RUNBOOKS = ROOT / "runbooks"


def commands_of(group: Any, prefix: tuple[str, ...] = ()) -> list[str]:
    found: list[str] = []
    for name, command in sorted(getattr(group, "commands", {}).items()):
        path = (*prefix, name)
        if getattr(command, "commands", None):
            found.extend(commands_of(command, path))
        else:
            found.append(" ".join(path))
    return found


def command_table() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("| command | does |")
    return text[start : text.index("\n\n", start)]


def page(name: str) -> str:
    return " ".join((RUNBOOKS / name).read_text(encoding="utf-8").split())


def test_every_command_is_in_the_readme_table() -> None:
    rows = re.findall(r"^\| `rollout ([^`]*)`", command_table(), re.M)
    named = {" ".join(w for w in row.split() if re.fullmatch(r"[a-z][a-z-]*", w)) for row in rows}
    for command in commands_of(typer.main.get_command(app)):
        assert any(n == command or n.startswith(command + " ") for n in named), command
    assert "--version" in command_table()


def test_the_table_shows_the_on_call_flags() -> None:
    table = command_table()
    for row, flag in (("hotfix", "--force"), ("redrive", "--force"), ("abort", "--force")):
        [line] = [x for x in table.splitlines() if x.startswith(f"| `rollout {row} ")]
        assert flag in line, row
    assert "| `rollout resume RELEASE` |" in table
    assert "| `rollout local deploy URL` |" in table


def test_watch_page_says_status_shows_the_execution_state() -> None:
    text = page("watch.md")
    assert "does not show the execution's state" not in text
    assert "starts with the execution's state" in text


def test_force_pages_say_the_cli_gives_the_leases_back() -> None:
    stuck = page("stuck-execution.md")
    assert "the leases stay" not in stuck
    assert "no report is written" not in stuck
    assert "gives back every lease this release still holds" in stuck
    abort = page("abort.md")
    assert "the locks stay behind" not in abort
    assert "gives back the release's leases" in abort
    assert "(`rollout abort --force`, Stop in the console)" not in page("lock-left-behind.md")


def test_resume_and_hotfix_force_are_documented() -> None:
    held = page("failed-gate.md")
    assert "### A held release" in (RUNBOOKS / "failed-gate.md").read_text(encoding="utf-8")
    assert "$ rollout resume <RELEASE>" in held
    assert "rollout abort <RELEASE>" in held
    assert "`--force`" in page("hotfix.md")
    assert "rollout resume" in page("hotfix.md")


def test_an_ended_release_is_not_followed_again() -> None:
    """A start of an ended release exits 1: no page says it follows the old execution."""
    assert "After the execution ended it follows the old one again" not in page("start.md")
    assert 'it reports "already started" and follows the old execution' not in page("README.md")
    assert "already ran" in page("start.md") and "already ran" in page("README.md")
