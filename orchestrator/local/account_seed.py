"""Seeding the emulated account (moto) from a manifest: what a dry run's release finds there.

For every component: its Lambda function with the published versions the release names (moto
numbers versions 1, 2, 3, ...: all versions up to the highest one needed are published, each with
its own tiny zip, since moto publishes nothing for unchanged code), and the alias on the ``from``
version; every alarm a gate watches (in OK: moto never evaluates alarms). What exists is kept:
seeding twice changes nothing. Queues and backlogs are ``sqs_state``'s.

Cost (moto 5.2.5): publishing a version is one ``UpdateFunctionCode(Publish=True)`` call, about
5 ms.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Iterable
from typing import Any

from botocore.exceptions import ClientError

from orchestrator.errors import EnvironmentProblemError, Issue, ScenarioError
from orchestrator.model.manifest import Component

__all__ = ["ROLE_NAME", "AccountSeeder"]

ROLE_NAME = "rollout-simulated-function"
RUNTIME = "python3.12"


def dummy_zip(function: str, version: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "lambda_function.py",
            f"# {function} version {version}: simulated by the dry run\n"
            "def handler(event, context):\n"
            "    raise RuntimeError('simulated function: the dry run never invokes it')\n",
        )
    return buffer.getvalue()


class AccountSeeder:
    """Creates functions, versions, aliases and alarms; ``client`` returns a boto3 client."""

    def __init__(self, client: Callable[[str], Any]) -> None:
        self._client = client
        self._role_arn: str | None = None

    def alarms(self, names: Iterable[str]) -> None:
        """Every alarm a gate watches exists, as in an account where the release would run;
        ValidateAndPlan refuses unknown alarm names."""
        cloudwatch = self._client("cloudwatch")
        for name in sorted(set(names)):
            cloudwatch.put_metric_alarm(
                AlarmName=name,
                MetricName="Errors",
                Namespace="AWS/Lambda",
                Statistic="Sum",
                Period=60,
                EvaluationPeriods=1,
                Threshold=1.0,
                ComparisonOperator="GreaterThanOrEqualToThreshold",
            )

    def role(self) -> str:
        if self._role_arn is None:
            self._role_arn = self._create_role()
        return self._role_arn

    def _create_role(self) -> str:
        iam = self._client("iam")
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        try:
            created = iam.create_role(
                RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust)
            )
            return str(created["Role"]["Arn"])
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "EntityAlreadyExists":
                raise
        return str(iam.get_role(RoleName=ROLE_NAME)["Role"]["Arn"])

    def function(self, name: str, comp: Component, needed: list[str]) -> str:
        """Component ``name``'s function, versions up to the highest of ``needed`` and its alias
        (created on ``from``); returns the version the alias is on."""
        fn = comp.function_name
        lam = self._client("lambda")
        try:
            lam.get_function(FunctionName=fn)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            lam.create_function(
                FunctionName=fn,
                Runtime=RUNTIME,
                Role=self.role(),
                Handler="lambda_function.handler",
                Code={"ZipFile": dummy_zip(fn, 0)},
                Description=f"simulated {name}",
            )
        published = self._published_count(fn)
        highest = max((int(v) for v in needed), default=0)
        for number in range(published + 1, highest + 1):
            got = lam.update_function_code(
                FunctionName=fn, ZipFile=dummy_zip(fn, number), Publish=True
            )["Version"]
            if got != str(number):
                raise EnvironmentProblemError(
                    f"publishing {fn} version {number} returned version {got}: the emulated "
                    "account numbers versions differently than expected"
                )
        try:
            alias = lam.get_alias(FunctionName=fn, Name=comp.alias)
            return str(alias["FunctionVersion"])
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
        if comp.from_.version is None:
            raise ScenarioError(
                [
                    Issue(
                        f"components.{name}.from.version",
                        "a dry run needs the `from` version to create the alias "
                        f"{comp.alias!r} on it: give `from: {{version: ...}}`",
                    )
                ]
            )
        lam.create_alias(FunctionName=fn, Name=comp.alias, FunctionVersion=comp.from_.version)
        return comp.from_.version

    def _published_count(self, function: str) -> int:
        lam = self._client("lambda")
        count = 0
        marker: str | None = None
        while True:
            kwargs: dict[str, Any] = {"FunctionName": function, "MaxItems": 50}
            if marker:
                kwargs["Marker"] = marker
            page = lam.list_versions_by_function(**kwargs)
            for version in page.get("Versions", []):
                if str(version.get("Version", "")).isdigit():
                    count = max(count, int(version["Version"]))
            marker = page.get("NextMarker")
            if not marker:
                return count
