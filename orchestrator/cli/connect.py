"""Where the CLI's commands go: AWS (the deployed stack) or an engine at a URL.

``--engine URL`` points every client at one endpoint that serves Step Functions and the emulated
AWS services (``rollout local serve``); without it the CLI talks to AWS with the usual credential
chain and reads the stack's names from the environment (``ROLLOUT_STATE_MACHINE_ARN``,
``ROLLOUT_TABLE_NAME``; see infra/README.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pydantic_settings import BaseSettings, SettingsConfigDict

from orchestrator.aws.message_mover import SqsMessageMover
from orchestrator.aws.wiring import build_ports
from orchestrator.errors import EnvironmentProblemError, InputError, Issue
from orchestrator.ports import MessageMover, Ports

ENGINE_REGION = "us-east-1"
ENGINE_ACCOUNT = "123456789012"
ENGINE_STATE_MACHINE = f"arn:aws:states:{ENGINE_REGION}:{ENGINE_ACCOUNT}:stateMachine:rollout"


class CliSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ROLLOUT_", extra="ignore")

    state_machine_arn: str | None = None
    table_name: str | None = None
    """Default: the state machine's ``rollout:table`` tag (set by infra/template.yaml)."""
    topic_arn: str = ""
    region: str | None = None


LOCAL_TABLE = "rollout-releases"
"""The table of a local deployment (``orchestrator.local.runner.TABLE_NAME``)."""


def table_from_tags(sfn: Any, arn: str) -> str | None:
    """The release table named by the state machine's ``rollout:table`` tag, if readable."""
    try:
        tags = sfn.list_tags_for_resource(resourceArn=arn).get("tags", [])
    except (ClientError, BotoCoreError):
        return None
    for tag in tags:
        if tag.get("key") == "rollout:table":
            return str(tag.get("value"))
    return None


@dataclass
class Connection:
    ports: Ports
    sfn: Any
    state_machine_arn: str
    mover: MessageMover
    where: str

    def execution_arn(self, release: str) -> str:
        return self.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{release}"


def check_engine_url(engine: str) -> None:
    """``--engine`` must be the http(s) URL of an engine: bad input (exit 2) otherwise."""
    try:
        parts = urlsplit(engine)
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:
        port_ok = False
        parts = urlsplit("")
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise InputError(
            [
                Issue(
                    "--engine",
                    f"{engine!r} is not the URL of an engine: give the http(s) URL of a running "
                    "engine, e.g. --engine http://localhost:8083 (`rollout local serve`)",
                )
            ]
        )


def connect(engine: str | None, settings: CliSettings | None = None) -> Connection:
    s = settings or CliSettings()
    config = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5)
    if engine is not None:
        check_engine_url(engine)
        session = boto3.session.Session(
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name=ENGINE_REGION,
        )
        endpoint: str | None = engine
        arn = s.state_machine_arn or ENGINE_STATE_MACHINE
        where = engine
    else:
        session = boto3.session.Session(region_name=s.region)
        endpoint = None
        if not s.state_machine_arn:
            raise EnvironmentProblemError(
                "set ROLLOUT_STATE_MACHINE_ARN (the stack's StateMachineArn output) or pass "
                "--engine URL"
            )
        arn = s.state_machine_arn
        where = "AWS"

    def client(name: str) -> Any:
        return session.client(name, endpoint_url=endpoint, config=config)  # type: ignore[call-overload]

    sfn = client("stepfunctions")
    try:
        sfn.describe_state_machine(stateMachineArn=arn)
    except ClientError as exc:
        raise EnvironmentProblemError(
            f"state machine {arn} is not reachable at {where}: {exc.response['Error']['Message']}"
        ) from None
    except BotoCoreError as exc:
        raise EnvironmentProblemError(f"cannot reach {where}: {exc}") from None
    table = s.table_name or table_from_tags(sfn, arn) or LOCAL_TABLE
    sqs = client("sqs")
    ports = build_ports(client, table_name=table, topic_arn=s.topic_arn)
    mover: MessageMover
    if engine:
        from orchestrator.local.message_mover import EmulatedMessageMover

        mover = EmulatedMessageMover(sqs)
    else:
        mover = SqsMessageMover(sqs)
    return Connection(ports=ports, sfn=sfn, state_machine_arn=arn, mover=mover, where=where)
