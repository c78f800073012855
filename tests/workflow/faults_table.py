"""Print the fault-injection matrix written by tests/workflow/test_faults.py (``make faults``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(path: str) -> int:
    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    if not rows:
        print("no rows: did tests/workflow/test_faults.py run?")
        return 1
    width = max(len(r["fault"]) for r in rows)
    print(f"{'fault':<{width}} | {'expected':<14} | observed")
    print(f"{'-' * width}-+-{'-' * 14}-+-{'-' * 40}")
    for row in rows:
        print(f"{row['fault']:<{width}} | {row['expected']:<14} | {row['observed']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
