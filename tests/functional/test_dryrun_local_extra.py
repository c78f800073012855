"""A plain `pip install rollout-orchestrator` (no `[local]` extra): the commands that need the
embedded engine or the local Lambda endpoint exit 3 and say what to install (issue 9, blocker 2).

The missing extra is simulated in a subprocess: a ``sitecustomize`` on ``PYTHONPATH`` puts a
meta-path finder first that refuses to import moto, werkzeug and flask, and hides their package
metadata from ``importlib.metadata`` (as if they were never installed).
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.processes import CLI, cli_env, free_port

ROOT = Path(__file__).resolve().parents[2]
HINT = "pip install 'rollout-orchestrator[local]'"
TIMEOUT = 60.0

HIDE = textwrap.dedent(
    """
    import importlib.machinery
    import sys

    HIDDEN = {"moto", "werkzeug", "flask"}


    class _Uninstalled:
        @classmethod
        def find_spec(cls, name, path=None, target=None):
            if name.partition(".")[0] in HIDDEN:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None


    sys.meta_path.insert(0, _Uninstalled)
    _find = importlib.machinery.PathFinder.find_distributions


    def _visible(*args, **kwargs):
        for dist in _find(*args, **kwargs):
            if (dist.metadata["Name"] or "").lower() not in HIDDEN:
                yield dist


    importlib.machinery.PathFinder.find_distributions = staticmethod(_visible)
    """
)


@pytest.fixture(scope="module")
def without_extra(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a `rollout` process that cannot import the `[local]` extra."""
    folder = tmp_path_factory.mktemp("no-local-extra")
    (folder / "sitecustomize.py").write_text(HIDE, encoding="utf-8")
    env = cli_env()
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(folder), env.get("PYTHONPATH")) if p)
    return env


def rollout(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def test_the_simulation_really_hides_the_extra(without_extra: dict[str, str]) -> None:
    probe = (
        "import importlib.metadata as m, importlib.util as u\n"
        "try:\n    m.version('moto'); print('metadata')\nexcept m.PackageNotFoundError: pass\n"
        "try:\n    import werkzeug; print('werkzeug')\nexcept ImportError: pass\n"
        "import boto3, typer\nprint('ok')\n"
    )
    out = subprocess.run(
        [CLI[0], "-c", probe], env=without_extra, capture_output=True, text=True, check=False
    )
    assert out.stdout.split() == ["ok"], out.stdout + out.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["dry-run", "examples/seed.yaml"],
        ["dry-run", "examples/seed.yaml", "-s", "examples/scenarios/seed-enrich-breaks.yaml"],
        ["local", "serve", "--port", "{port}"],
        ["local", "serve", "--port", "{port}", "-m", "examples/seed.yaml"],
        ["local-lambda", "--port", "{port}"],
        ["local", "deploy", "http://127.0.0.1:{port}"],
    ],
    ids=["dry-run", "dry-run-scenario", "serve", "serve-manifest", "local-lambda", "deploy"],
)
def test_a_command_that_needs_the_extra_exits_3_and_says_what_to_install(
    without_extra: dict[str, str], args: list[str]
) -> None:
    port = str(free_port())
    out = rollout(without_extra, *(a.replace("{port}", port) for a in args))
    assert out.returncode == 3, out.stdout + out.stderr
    assert "Traceback" not in out.stderr, out.stderr
    assert HINT in out.stderr, out.stderr
    command = "rollout " + (" ".join(args[:2]) if args[0] == "local" else args[0])
    assert command in out.stderr, out.stderr


def test_the_json_error_names_the_extra(without_extra: dict[str, str]) -> None:
    out = rollout(without_extra, "dry-run", "examples/seed.yaml", "--format", "json")
    assert out.returncode == 3, out.stdout + out.stderr
    (error,) = json.loads(out.stdout)["errors"]
    assert HINT in error["message"]
    assert "moto" in error["message"]


def test_bad_input_is_still_exit_2_without_the_extra(
    without_extra: dict[str, str], tmp_path: Path
) -> None:
    """What the user typed is checked first: nothing needs the engine to say it is wrong."""
    missing = tmp_path / "nope.yaml"
    out = rollout(without_extra, "dry-run", str(missing))
    assert out.returncode == 2, out.stdout + out.stderr


def test_the_commands_that_need_no_engine_still_work(without_extra: dict[str, str]) -> None:
    for args in (["validate", "examples/seed.yaml"], ["plan", "examples/seed.yaml"]):
        out = rollout(without_extra, *args)
        assert out.returncode == 0, out.stdout + out.stderr
