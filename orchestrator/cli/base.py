"""The ``rollout`` command (DESIGN §7).

Exit codes: 0 completed, 1 did not complete, 2 invalid or infeasible input (nothing changed),
3 environment problem (AWS or engine unreachable). ``--format json`` prints one JSON document on
stdout for pipelines; human output goes to stdout, problems to stderr.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.live import Live

from orchestrator.errors import InfeasibleReleaseError, InputError, Issue, RolloutError

app = typer.Typer(
    name="rollout",
    help=(
        "Schema-aware, roll-forward releases of Lambda -> SQS -> Lambda chains.\n\n"
        "Plan a release from the schema versions each component reads and writes, shift aliases "
        "in dependency order, drain queues of old-schema messages, verify every step, and on "
        "failure roll forward with a hotfix instead of rolling back."
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _tidy_help() -> None:
    """Three quirks of typer's help (0.2x), fixed where typer has them (a no-op elsewhere): every
    flag showed a type (`--help <bool>`), a required argument was braced in the usage line
    (`{MANIFEST}`), and a default given as text was parenthesised (`[default: (8083)]`)."""
    from typer import core

    option: Any = getattr(core, "TyperOption", None)
    shown = getattr(option, "display_type_rich", None)
    if shown is not None and not getattr(shown, "_rollout", False):

        def display_type_rich(self: Any, ctx: Any) -> str | None:
            if getattr(self, "is_flag", False) and not getattr(self, "count", False):
                return None
            result: str | None = shown(self, ctx)
            return result

        display_type_rich._rollout = True  # type: ignore[attr-defined]
        option.display_type_rich = display_type_rich
    argument: Any = getattr(core, "TyperArgument", None)
    if argument is not None and hasattr(argument, "_usage_display_name"):

        def usage_name(self: Any) -> str:
            name = str(self.display_name_raw)
            if not self.required:
                name = f"[{name}]"
            return name + ("..." if self.nargs != 1 else "")

        argument._usage_display_name = usage_name
    default_string = getattr(core, "_get_default_string", None)
    if default_string is not None and not getattr(default_string, "_rollout", False):

        def get_default_string(obj: Any, **kwargs: Any) -> str:
            if kwargs.get("show_default_is_str"):
                return str(obj.show_default)
            return str(default_string(obj, **kwargs))

        get_default_string._rollout = True  # type: ignore[attr-defined]
        core._get_default_string = get_default_string


_tidy_help()


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rollout-orchestrator")
    except PackageNotFoundError:
        return "unknown (not installed as a package)"


def _print_version(value: bool) -> None:
    if value:
        sys.stdout.write(f"rollout {package_version()}\n")
        raise typer.Exit(0)


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the version and exit.",
            is_eager=True,
            callback=_print_version,
        ),
    ] = False,
) -> None:
    pass


class PipeConsole(Console):
    """A Rich console for which a reader that went away (`rollout plan M | head -1`) is not an
    error: the output stops, the command exits 0 (Rich's default exits 1)."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        silence_stdout()
        raise SystemExit(0)


# Piped output (CI logs, `| less`) gets a wide page instead of Rich's 80-column default.
stdout = PipeConsole(width=None if sys.stdout.isatty() else 140)
stderr = PipeConsole(stderr=True, width=None if sys.stderr.isatty() else 140)


def live_display(
    console: Console,
    renderable: Any = "",
    *,
    transient: bool,
    refresh_per_second: float = 4,
) -> Live:
    """A Rich ``Live`` on ``console`` that leaves ``sys.stdout``/``sys.stderr`` alone.

    Rich's default swaps both for proxies while the display runs and puts back, on stop, what it
    found on start. Those are process-wide: a display that stops while another command in the
    same process (a test's ``CliRunner``, a thread) has its own streams in place would hand that
    command the old ones, and its output would vanish mid-line. Everything this CLI shows goes
    through its consoles, which draw above a live display on their own."""
    return Live(
        renderable,
        console=console,
        refresh_per_second=refresh_per_second,
        transient=transient,
        redirect_stdout=False,
        redirect_stderr=False,
    )


T = TypeVar("T")


class TextOrJson(StrEnum):
    text = "text"
    json = "json"


class PlanFormat(StrEnum):
    text = "text"
    json = "json"
    mermaid = "mermaid"


ManifestArg = Annotated[
    Path,
    typer.Argument(
        metavar="MANIFEST",
        help="Release manifest (YAML or JSON), see DESIGN §3 or examples/seed.yaml.",
        show_default=False,
    ),
]


def emit_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=False) + "\n")
    sys.stdout.flush()


def guarded(fmt: str, action: Callable[[], T]) -> T:
    """Run ``action``; turn the project's errors into the documented output and exit code."""
    try:
        return action()
    except InputError as exc:
        title = (
            "Infeasible release: no safe order exists"
            if isinstance(exc, InfeasibleReleaseError)
            else "Invalid input"
        )
        report(fmt, title, exc.issues, input_error=True)
        raise typer.Exit(exc.exit_code) from None
    except RolloutError as exc:
        report(fmt, type(exc).__name__, [Issue("", str(exc))])
        raise typer.Exit(exc.exit_code) from None
    except (BotoCoreError, ClientError) as exc:
        report(fmt, "AWS or the engine refused", [Issue("", str(exc))])
        raise typer.Exit(3) from None
    except BrokenPipeError:
        # the reader went away (`rollout plan M | head -1`): not an error of ours
        silence_stdout()
        raise typer.Exit(0) from None


def silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's last flush cannot fail on a closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def report(fmt: str, title: str, issues: list[Issue], *, input_error: bool = False) -> None:
    from orchestrator.cli.render import render_issues

    if fmt == "json":
        emit_json({"errors": [issue.as_dict() for issue in issues]})
    else:
        # only a document (manifest, scenario) has a "(document)"; an environment problem or a
        # release's state has no path at all
        render_issues(stderr, title, issues, unplaced="(document)" if input_error else None)


EXIT_BY_STATUS = {"SUCCEEDED": 0, "ROLLED_FORWARD": 0, "HALTED": 1, "FAILED": 1}
"""Exit code of a finished release by status (DESIGN §7)."""

FormatOpt = Annotated[
    TextOrJson, typer.Option("--format", "-f", help="text for people, json for pipelines.")
]


EngineOpt = Annotated[
    str | None,
    typer.Option(
        "--engine",
        help="URL of an engine serving Step Functions and the emulated services "
        "(`rollout local serve`); default: AWS, with ROLLOUT_STATE_MACHINE_ARN.",
    ),
]


ReleaseArg = Annotated[
    str, typer.Argument(metavar="RELEASE", help="The release id (execution name).")
]


def engine_flags(engine: str | None) -> str:
    """The flags a copy-paste hint repeats to reach the same engine (`` --engine URL``)."""
    return f" --engine {engine}" if engine else ""
