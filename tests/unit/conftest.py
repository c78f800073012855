from __future__ import annotations

from typing import Any

import pytest

from tests.factories import queue


@pytest.fixture
def seed_data() -> dict[str, Any]:
    return {
        "release": "2026-11-28.1",
        "queues": {"orders": queue("orders"), "enriched": queue("enriched")},
        "components": {
            "ingest": {
                "function": "ingest",
                "from": {"version": "42", "writes": {"orders": 1}},
                "to": {"version": "43", "writes": {"orders": 2}},
            },
            "enrich": {
                "function": "enrich",
                "from": {"version": "17", "reads": {"orders": [1]}, "writes": {"enriched": 1}},
                "to": {"version": "18", "reads": {"orders": [1, 2]}, "writes": {"enriched": 1}},
            },
            "store": {
                "function": "store",
                "from": {"version": "5", "reads": {"enriched": [1]}},
                "to": {"version": "5", "reads": {"enriched": [1]}},
            },
        },
    }
