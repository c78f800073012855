"""Fixtures shared by every test layer.

``engine``: the embedded engine, started once per test session. moto's state and ``MOTO_PORT`` are
process-wide, so only one :class:`EmbeddedEngine` can run at a time: a module that needs an engine
should use this fixture (and ``engine.reset()`` or its own names to stay independent) rather than
start its own, or it fails with "another EmbeddedEngine is already running" once this one is up.
(``tests/functional/test_engine.py`` keeps its own module-scoped fixture of the same name, which
overrides this one there; it runs and stops before this one is first started.)
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from orchestrator.local.engine import EmbeddedEngine


@pytest.fixture(scope="session")
def engine() -> Iterator[EmbeddedEngine]:
    with EmbeddedEngine() as running:
        yield running
