"""Fixtures of the adapter tests: fake credentials and moto's in-memory AWS (``mock_aws``).

``mock_aws`` shares moto's process-wide backends with the embedded engine, so these run in
modules that never use the session ``engine`` fixture (the ``test_aws_*`` modules).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

REGION = "us-east-1"


@pytest.fixture
def fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials and region that can only ever reach an emulator."""
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def aws(fake_credentials: None) -> Iterator[None]:
    """Fake credentials and moto's in-memory AWS for the duration of a test."""
    with mock_aws():
        yield
