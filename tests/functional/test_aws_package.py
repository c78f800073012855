"""The adapter package: every adapter declares its IAM actions; the clock is UTC."""

from __future__ import annotations

import re
from datetime import UTC, timedelta

import orchestrator.aws as aws
from orchestrator.aws import ADAPTERS, SystemClock


def test_every_adapter_declares_well_formed_iam_actions() -> None:
    for adapter in ADAPTERS:
        actions = adapter.AWS_ACTIONS
        assert isinstance(actions, tuple), adapter
        assert len(set(actions)) == len(actions), adapter
        for action in actions:
            assert re.fullmatch(r"(lambda|sqs|cloudwatch|dynamodb|sns):[A-Z][A-Za-z]+", action)


def test_package_exports() -> None:
    assert set(aws.__all__) <= set(dir(aws))


def test_system_clock_is_utc_aware() -> None:
    now = SystemClock().now()
    assert now.tzinfo is not None
    assert now.utcoffset() == timedelta(0)
    assert now.tzinfo is UTC
