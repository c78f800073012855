"""Manifest loading speed: YAML and JSON text of the same large release, parsed and validated.

Run: ``.venv/bin/python -m tests.bench.bench_load [--sizes 1000 10000] [--repeat 3]``
(``make bench`` runs every benchmark in this folder).

The release is ``bench_planner``'s synthetic layered release, written out as a person would: YAML
in block style (``yaml.safe_dump``) and indented JSON. Columns, each the minimum over ``--repeat``
runs of wall time (``time.perf_counter``): ``parse`` is ``parse_document`` (syntax, duplicate-key
detection, aliases bounded), ``validate`` is ``manifest_from_text`` (parse plus every manifest rule:
what ``rollout validate`` spends before planning), ``MB/s`` the validate throughput. The loader
line names the YAML loader in use: ``yaml.CSafeLoader`` (libyaml) when PyYAML was built with it,
else the pure-Python ``yaml.SafeLoader``.

Target: validating 10,000 components from YAML within 5x of the same release from JSON (it was
35x: 38.6 s against 1.1 s, with the pure-Python loader parsing every document twice).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import time
from collections.abc import Callable
from typing import Any

import yaml

from orchestrator.model import load
from orchestrator.model.load import manifest_from_text, parse_document
from tests.bench.bench_planner import synthetic_release

TARGET_RATIO = 5.0


def best_of(repeat: int, action: Callable[[], Any]) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    return best


def texts(size: int) -> dict[str, str]:
    data = synthetic_release(size)
    return {
        "yaml": yaml.safe_dump(data, default_flow_style=False, sort_keys=False),
        "json": json.dumps(data, indent=2),
    }


def loader_name() -> str:
    loader = getattr(load, "_Loader", None)
    bases = [c.__name__ for c in getattr(loader, "__mro__", ())]
    if "CSafeLoader" in bases or "CParser" in bases:
        return "yaml.CSafeLoader (libyaml)"
    return "yaml.SafeLoader (pure Python)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    average = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"manifest loading benchmark: minimum of {args.repeat} runs, seconds of wall time; "
        f"load average {average} on {os.cpu_count()} CPUs; loader {loader_name()}"
    )
    print(f"{'components':>10} {'format':>6} {'KB':>7} {'parse':>8} {'validate':>8} {'MB/s':>6}")
    validate: dict[tuple[int, str], float] = {}
    for size in args.sizes:
        for fmt, text in texts(size).items():
            parse = best_of(args.repeat, lambda text=text: parse_document(text))
            full = best_of(args.repeat, lambda text=text: manifest_from_text(text))
            validate[size, fmt] = full
            megabytes = len(text.encode()) / 1e6
            print(
                f"{size:>10} {fmt:>6} {len(text) // 1024:>7} {parse:>8.3f} {full:>8.3f} "
                f"{megabytes / full:>6.2f}",
                flush=True,
            )
    largest = max(args.sizes)
    ratio = validate[largest, "yaml"] / validate[largest, "json"]
    verdict = "met" if ratio <= TARGET_RATIO else "MISSED"
    print(f"YAML / JSON at {largest}: {ratio:.1f}x (target <= {TARGET_RATIO:g}x: {verdict})")


if __name__ == "__main__":
    main()
