"""Deploying the real definition to a Step Functions endpoint (Step Functions Local, or the
embedded engine's API): names, the Lambda ARNs its tasks call, create-or-update.

Shared by ``local.runner`` (a dry run with ``--engine URL``), ``local.serve``, the local Lambda
endpoint and ``rollout local deploy``; it imports nothing of moto or werkzeug at import time.
"""

from __future__ import annotations

from typing import Any

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "123456789012"
"""The region and account of the local ARNs (Step Functions Local's defaults)."""
STATE_MACHINE_NAME = "rollout"
CHILD_STATE_MACHINE_NAME = "rollout-shift-component"
"""The per-component child state machine (``shift_component.asl.json``)."""
FUNCTION_PREFIX = "rollout-"
SFN_LOCAL_ROLE_ARN = f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/rollout-step-functions-local"


def function_name(step: str) -> str:
    """The local Lambda function of ASL task ``step``: ``rollout-<Step>``."""
    return f"{FUNCTION_PREFIX}{step}"


def lambda_arns(
    region: str = DEFAULT_REGION, account_id: str = DEFAULT_ACCOUNT_ID
) -> dict[str, str]:
    """The definition's substitutions: ``${<Step>Arn}`` -> ARN of function ``rollout-<Step>``."""
    from orchestrator.steps import step_handlers

    return {
        f"{step}Arn": f"arn:aws:lambda:{region}:{account_id}:function:{function_name(step)}"
        for step in step_handlers()
    }


def deploy_to_step_functions(
    sfn_client: Any,
    *,
    name: str = STATE_MACHINE_NAME,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
    role_arn: str = SFN_LOCAL_ROLE_ARN,
    definition_file: str | None = None,
) -> str:
    """Create or update state machine ``name`` from the real definition; return its ARN.

    Its Lambda tasks name ``arn:aws:lambda:<region>:<account>:function:rollout-<Step>``, which a
    :class:`LambdaEndpoint` serving the step handlers answers (`rollout local-lambda`).
    ``definition_file``: ``rollout.asl.json`` (the default) or ``shift_component.asl.json``.
    """
    from orchestrator.definition import PARENT, load_definition
    from orchestrator.local.engine import fill_placeholders

    definition = fill_placeholders(
        load_definition(definition_file or PARENT), lambda_arns(region, account_id)
    )
    for machine in _state_machines(sfn_client):
        if machine["name"] == name:
            arn = str(machine["stateMachineArn"])
            sfn_client.update_state_machine(
                stateMachineArn=arn, definition=definition, roleArn=role_arn
            )
            return arn
    created = sfn_client.create_state_machine(name=name, definition=definition, roleArn=role_arn)
    return str(created["stateMachineArn"])


def deploy_both(
    sfn_client: Any,
    *,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
    role_arn: str = SFN_LOCAL_ROLE_ARN,
) -> tuple[str, str]:
    """Deploy the parent and the child state machines; returns ``(parent ARN, child ARN)``."""
    from orchestrator.definition import CHILD

    child = deploy_to_step_functions(
        sfn_client,
        name=CHILD_STATE_MACHINE_NAME,
        region=region,
        account_id=account_id,
        role_arn=role_arn,
        definition_file=CHILD,
    )
    parent = deploy_to_step_functions(
        sfn_client, region=region, account_id=account_id, role_arn=role_arn
    )
    return parent, child


def _state_machines(sfn_client: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {}
    while True:
        page = sfn_client.list_state_machines(**kwargs)
        out.extend(page.get("stateMachines", []))
        token = page.get("nextToken")
        if not token:
            return out
        kwargs["nextToken"] = token
