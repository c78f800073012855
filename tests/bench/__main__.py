"""Run every benchmark in this folder: ``python -m tests.bench`` (what ``make bench`` calls).

Each ``bench_*.py`` module's ``main()`` runs, in name order and with its default arguments, in a
fresh interpreter: one benchmark's heap, patches (moto_compat) or garbage-collector state must not
skew the next one's figures. Give module names to run only some: ``python -m tests.bench
bench_planner``. The exit code is 1 when any benchmark crashed.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def modules(only: list[str]) -> list[str]:
    names = sorted(path.stem for path in HERE.glob("bench_*.py"))
    if only:
        unknown = sorted(set(only) - set(names))
        if unknown:
            raise SystemExit(f"unknown benchmark(s) {unknown}; available: {names}")
        names = [name for name in names if name in only]
    return names


def run(name: str) -> int:
    code = f"import sys; sys.argv = [{name + '.py'!r}]; from tests.bench.{name} import main; main()"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=False).returncode


def main() -> int:
    failed: list[str] = []
    for name in modules(sys.argv[1:]):
        print(f"== {name} ==", flush=True)
        start = time.perf_counter()
        code = run(name)
        if code != 0:
            failed.append(name)
        status = "ok" if code == 0 else f"FAILED (exit code {code})"
        print(f"== {name}: {status}, {time.perf_counter() - start:.1f} s ==\n", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
