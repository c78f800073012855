"""The `--html FILE` option of `rollout report` and `rollout dry-run`: checking where the page
goes before anything runs, writing it, and saying where it went. The page itself is
``html_report.render_html`` (a pure function); its data is ``release.history.release_picture``."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from orchestrator.cli.base import stderr
from orchestrator.errors import InputError, Issue, ReleaseNotFoundError

if TYPE_CHECKING:
    from orchestrator.ports import RecordStore

HtmlOpt = Annotated[
    Path | None,
    typer.Option(
        "--html",
        metavar="FILE",
        help="Write the release as one self-contained HTML page (inline SVG and CSS, nothing "
        "fetched) to FILE; `-` writes it to stdout.",
        show_default=False,
    ),
]


def check_html_target(path: Path | None, *, stdout_free: bool = True) -> None:
    """``--html FILE`` must be writable where it points: exit 2 before anything runs.

    ``stdout_free``: whether ``-`` (stdout) may take the page; a dry run prints its report
    there."""
    option = "--html"
    if path is None:
        return
    if str(path) == "-":
        if not stdout_free:
            raise InputError(
                [
                    Issue(
                        option,
                        "`-` (stdout) carries this command's report: give a file, e.g. "
                        "--html release.html",
                    )
                ]
            )
        return
    if path.is_dir():
        raise InputError(
            [Issue(option, f"{path} is a directory: give a file name, e.g. {path}/release.html")]
        )
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(
            [
                Issue(
                    option,
                    f"the folder {parent} does not exist: create it (`mkdir -p {parent}`) or "
                    "write the page elsewhere",
                )
            ]
        )


def write_html(path: Path, page: str) -> int:
    """Write the page (stdout for ``-``); the number of bytes written."""
    data = page.encode("utf-8")
    if str(path) == "-":
        sys.stdout.write(page)
        sys.stdout.flush()
        return len(data)
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise InputError(
            [Issue("--html", f"cannot write {path}: {exc.strerror or exc}: choose another file")]
        ) from None
    return len(data)


def html_notice(path: Path, size: int, status: str) -> None:
    """The line a person reads after a page was written (stderr, so stdout stays the report)."""
    if str(path) != "-":
        stderr.print(
            f"wrote {path} ({size / 1024:.0f} KB, release {status}): open it in a browser",
            highlight=False,
        )


def picture_or_none(
    records: RecordStore, release: str, report: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """The picture of a release that ran (a dry run), or None when it stored no plan."""
    from orchestrator.release.history import release_picture

    try:
        return release_picture(records, release, report)
    except ReleaseNotFoundError:
        stderr.print(
            f"[yellow]![/] --html: release {release} stored no plan, so there is nothing to draw",
            highlight=False,
        )
        return None
