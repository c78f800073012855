"""Local serving commands: `rollout local-lambda` and `rollout local serve` (DESIGN §6-§7).

Both serve until SIGINT (Ctrl-C) or SIGTERM, then stop cleanly and exit 0. A port that is taken is
an environment problem: exit 3, as is a plain ``pip install rollout-orchestrator`` without the
``local`` extra (werkzeug, and for ``local serve`` moto): the message says what to install.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from orchestrator.cli.base import TextOrJson, app, guarded, stderr
from orchestrator.errors import EnvironmentProblemError, InputError, Issue
from orchestrator.local.engine import ENDPOINT_MODULES, local_extra_guard, require_local_extra

if TYPE_CHECKING:
    from orchestrator.local.lambda_endpoint import Handler, LambdaEndpoint

local_app = typer.Typer(
    name="local",
    help=(
        "Serve the orchestrator locally for other processes: the embedded engine (Step Functions "
        "and an emulated AWS account) on a port, driven with `--engine URL` or plain boto3."
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
app.add_typer(local_app, name="local")

FormatOpt = Annotated[
    TextOrJson,
    typer.Option("--format", "-f", help="text for people; json: one JSON line for scripts."),
]
HostOpt = Annotated[
    str,
    typer.Option("--host", help="Interface to listen on (0.0.0.0 for a Docker container)."),
]


def _ready_line(fmt: str, document: dict[str, Any], text: str) -> None:
    """The one line a caller waits for: JSON (compact, one line) or text, flushed at once."""
    sys.stdout.write((json.dumps(document) if fmt == "json" else text) + "\n")
    sys.stdout.flush()


@app.command("local-lambda")
def local_lambda(
    host: HostOpt = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", help="Port to listen on.")] = 8083,
    aws_endpoint: Annotated[
        str | None,
        typer.Option(
            "--aws-endpoint",
            help="Where the handlers' AWS calls go (an emulated account such as `rollout local "
            "serve` or a moto server); default: AWS, with the usual credentials.",
        ),
    ] = None,
    region: Annotated[
        str | None,
        typer.Option(help="AWS region of the handlers' clients (default: ROLLOUT_REGION/AWS's)."),
    ] = None,
    deploy_to: Annotated[
        str | None,
        typer.Option(
            "--deploy-to",
            help="Also create or update the `rollout` state machine on the Step Functions "
            "endpoint at this URL (Step Functions Local), with Lambda ARNs served here.",
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every request.")] = False,
    fmt: FormatOpt = TextOrJson.text,
) -> None:
    """Serve the orchestrator's step handlers over Lambda's Invoke API, for Step Functions Local.

    Point Step Functions Local's `LAMBDA_ENDPOINT` here. Function names are `rollout-<Step>`
    (`rollout-ValidateAndPlan`, ...), addressed by name or by any ARN. The handlers' table and
    topic come from `ROLLOUT_TABLE_NAME` (default `rollout-releases`) and `ROLLOUT_TOPIC_ARN`.
    Serves until Ctrl-C or SIGTERM (exit 0); exit 3 when the port is taken or the account is
    unreachable. See docs/step-functions-local.md.

    Examples:

    * `rollout local-lambda --aws-endpoint http://127.0.0.1:4566` (an emulated account)
    * `rollout local-lambda --host 0.0.0.0 --port 8083 --deploy-to http://localhost:8084`
    * `rollout local-lambda` (the handlers' calls go to AWS)
    """

    def run() -> int:
        require_local_extra("rollout local-lambda", ENDPOINT_MODULES)
        with local_extra_guard("rollout local-lambda"):
            from orchestrator.local.lambda_endpoint import DEFAULT_ACCOUNT_ID, DEFAULT_REGION
            from orchestrator.local.serve import wait_for_signal

        handlers, where, used_region = _step_handlers(aws_endpoint, region)
        endpoint = _endpoint(handlers, host, port, verbose)
        try:
            state_machine = None
            if deploy_to:
                state_machine = _deploy(deploy_to, used_region or DEFAULT_REGION)
            document = {
                "lambda_endpoint_url": endpoint.url,
                "functions": endpoint.names(),
                "aws": where,
                "state_machine_arn": state_machine,
            }
            text = f"Lambda endpoint {endpoint.url} ({len(handlers)} functions; AWS calls: {where})"
            if state_machine:
                text += f"; state machine {state_machine} at {deploy_to}"
            _ready_line(fmt, document, text)
            if fmt == "text" and not state_machine:
                stderr.print(
                    "Lambda ARNs: arn:aws:lambda:"
                    f"{used_region or DEFAULT_REGION}:{DEFAULT_ACCOUNT_ID}:function:rollout-<Step>"
                    " (any region/account works); Ctrl-C stops",
                    highlight=False,
                )
            wait_for_signal()
        finally:
            endpoint.stop()
        return 0

    raise typer.Exit(guarded(fmt, run))


def _endpoint(handlers: dict[str, Handler], host: str, port: int, verbose: bool) -> LambdaEndpoint:
    from orchestrator.local.lambda_endpoint import LambdaEndpoint

    return LambdaEndpoint(handlers, host=host, port=port, quiet=not verbose).start()


def _step_handlers(
    aws_endpoint: str | None, region: str | None
) -> tuple[dict[str, Handler], str, str | None]:
    """The step handlers bound to the ports a deployed step function builds (aws/wiring.py).

    With ``--aws-endpoint`` every client goes there (dummy credentials unless some are set,
    region us-east-1 unless given); without it, to AWS with the usual credential chain.
    """
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from orchestrator.aws.wiring import Settings, ports_from_settings
    from orchestrator.cli.connect import ENGINE_ACCOUNT, ENGINE_REGION, CliSettings
    from orchestrator.local.runner import TABLE_NAME, TOPIC_NAME
    from orchestrator.local.sfn_deploy import function_name
    from orchestrator.steps import step_handlers

    cli = CliSettings()
    table = cli.table_name or TABLE_NAME
    if aws_endpoint:
        if not aws_endpoint.startswith(("http://", "https://")):
            raise InputError([Issue("--aws-endpoint", f"{aws_endpoint!r} is not an http(s) URL")])
        used_region: str | None = region or cli.region or ENGINE_REGION
        topic_arn = cli.topic_arn or f"arn:aws:sns:{used_region}:{ENGINE_ACCOUNT}:{TOPIC_NAME}"
        if not os.environ.get("AWS_ACCESS_KEY_ID"):
            # an emulated account takes any credentials; this process serves nothing else
            os.environ["AWS_ACCESS_KEY_ID"] = "testing"
            os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
        where = aws_endpoint
    else:
        used_region = region or cli.region
        topic_arn = cli.topic_arn
        where = "AWS"
    settings = Settings(
        table_name=table, topic_arn=topic_arn, region=used_region, endpoint_url=aws_endpoint
    )
    try:
        dynamodb = boto3.session.Session(region_name=used_region).client(
            "dynamodb", endpoint_url=aws_endpoint
        )
        dynamodb.describe_table(TableName=table)
    except ClientError as exc:
        raise EnvironmentProblemError(
            f"table {table} is not usable at {where}: {exc.response['Error']['Message']} "
            "(set ROLLOUT_TABLE_NAME, deploy the stack, or serve an emulated account with "
            "`rollout local serve`)"
        ) from None
    except BotoCoreError as exc:
        raise EnvironmentProblemError(f"cannot reach {where}: {exc}") from None
    ports = ports_from_settings(settings)
    handlers: dict[str, Handler] = {
        function_name(step): handler.bind(ports) for step, handler in step_handlers().items()
    }
    return handlers, where, used_region


def _deploy(url: str, region: str) -> str:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    from orchestrator.local.sfn_deploy import deploy_to_step_functions

    if not url.startswith(("http://", "https://")):
        raise InputError([Issue("--deploy-to", f"{url!r} is not an http(s) URL")])
    sfn = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
    ).client(
        "stepfunctions",
        endpoint_url=url,
        config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5),
    )
    try:
        return deploy_to_step_functions(sfn, region=region)
    except (BotoCoreError, ClientError) as exc:
        raise EnvironmentProblemError(f"cannot deploy the state machine to {url}: {exc}") from None


@local_app.command("deploy")
def deploy(
    url: Annotated[
        str,
        typer.Argument(
            metavar="URL", help="A Step Functions endpoint, e.g. Step Functions Local's."
        ),
    ],
    region: Annotated[
        str, typer.Option(help="Region of the Lambda ARNs (Step Functions Local's region).")
    ] = "us-east-1",
    fmt: FormatOpt = TextOrJson.text,
) -> None:
    """Create or update the `rollout` state machine on a Step Functions endpoint.

    The real definition, its Lambda tasks naming `arn:aws:lambda:REGION:123456789012:function:
    rollout-<Step>`, which `rollout local-lambda` (or `rollout local serve --lambda-port`)
    answers through Step Functions Local's `LAMBDA_ENDPOINT`. Prints the state machine ARN.
    Exit 3 when the endpoint does not answer.

    Example: `rollout local deploy http://localhost:8084`
    """

    def run() -> int:
        require_local_extra("rollout local deploy", ENDPOINT_MODULES)
        arn = _deploy(url, region)
        _ready_line(fmt, {"state_machine_arn": arn, "endpoint_url": url}, arn)
        return 0

    raise typer.Exit(guarded(fmt, run))


@local_app.command("serve")
def serve(
    host: HostOpt = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", "-p", help="Port of the engine (Step Functions and AWS APIs).")
    ] = 8083,
    manifest: Annotated[
        Path | None,
        typer.Option(
            "--manifest",
            "-m",
            help="Seed the emulated account from this manifest (functions, versions, aliases, "
            "queues) and simulate it, as a dry run does.",
        ),
    ] = None,
    scenario: Annotated[
        Path | None,
        typer.Option(
            "--scenario",
            "-s",
            help="How the simulated account behaves (DESIGN §7a); needs --manifest.",
        ),
    ] = None,
    time_scale: Annotated[
        float | None,
        typer.Option(
            "--time-scale",
            help="Multiply every Wait of executions that do not set options.time_scale "
            "(default: 0 with --manifest, since simulated time moves with each step; else 1).",
        ),
    ] = None,
    lambda_port: Annotated[
        int | None,
        typer.Option(
            "--lambda-port",
            help="Also serve the step handlers over Lambda's Invoke API on this port (0: any) "
            "and route the engine's Lambda calls through it (Step Functions Local's "
            "LAMBDA_ENDPOINT can use it too).",
        ),
    ] = None,
    lambda_endpoint: Annotated[
        str | None,
        typer.Option(
            "--lambda-endpoint",
            help="Send the engine's `rollout-*` Lambda tasks to the Lambda endpoint at this URL "
            "instead of running the handlers here, as Step Functions Local's LAMBDA_ENDPOINT "
            "does (e.g. the one `rollout dry-run --engine URL --lambda-port P` serves).",
        ),
    ] = None,
    fmt: FormatOpt = TextOrJson.text,
) -> None:
    """Serve the embedded engine with the orchestrator deployed, until Ctrl-C or SIGTERM.

    Step Functions (state machine `rollout`), Lambda, SQS, DynamoDB (table `rollout-releases`),
    SNS and CloudWatch answer at one URL; drive it with `--engine URL` or boto3's `endpoint_url`
    (any credentials, region us-east-1). Prints one line with the URL and the state machine ARN
    when ready (one JSON line with `--format json`). Exit 0 after a signal, 2 for a bad manifest
    or scenario, 3 when the port is taken.

    With `--lambda-endpoint URL` it stands in for Step Functions Local: the state machine runs
    here, its Lambda tasks go to `URL` (function errors keep their names).

    Examples:

    * `rollout local serve --port 8083`
    * `rollout local serve -m examples/seed.yaml -s examples/scenarios/seed-healthy.yaml` then
      `rollout start examples/seed.yaml --engine http://127.0.0.1:8083 --wait`
    * `rollout local serve --port 4566 --lambda-port 8083 --format json`
    * `rollout local serve --port 8084 --lambda-endpoint http://127.0.0.1:8083` then
      `rollout dry-run examples/seed.yaml --engine http://127.0.0.1:8084 --lambda-port 8083`
    """

    def run() -> int:
        from orchestrator.model.load import load_manifest

        if scenario is not None and manifest is None:
            raise InputError([Issue("--scenario", "a scenario needs --manifest to seed from")])
        if time_scale is not None and not 0.0 <= time_scale <= 10.0:
            raise InputError([Issue("--time-scale", "expected a number from 0 to 10")])
        if lambda_endpoint is not None:
            if lambda_port is not None:
                raise InputError(
                    [
                        Issue(
                            "--lambda-endpoint",
                            "the handlers either run here (--lambda-port) or behind "
                            "--lambda-endpoint, not both",
                        )
                    ]
                )
            if not lambda_endpoint.startswith(("http://", "https://")):
                raise InputError(
                    [Issue("--lambda-endpoint", f"{lambda_endpoint!r} is not an http(s) URL")]
                )
        loaded = load_manifest(manifest) if manifest is not None else None
        behaviour = None
        if loaded is not None:
            from orchestrator.local.scenario import Scenario, load_scenario

            behaviour = load_scenario(scenario, loaded) if scenario else Scenario()
        require_local_extra("rollout local serve")
        with local_extra_guard("rollout local serve"):
            from orchestrator.local.serve import LocalServer, wait_for_signal
        server = LocalServer(
            host=host,
            port=port,
            manifest=loaded,
            scenario=behaviour,
            time_scale=time_scale,
            lambda_port=lambda_port,
            lambda_endpoint_url=lambda_endpoint,
        )
        try:
            server.start()
            document = server.describe()
            text = (
                f"engine {document['endpoint_url']} state machine {document['state_machine_arn']}"
            )
            if document["lambda_endpoint_url"]:
                text += f" Lambda endpoint {document['lambda_endpoint_url']}"
            if document["lambda_proxied_to"]:
                text += f" Lambda tasks to {document['lambda_proxied_to']}"
            if loaded is not None:
                text += f" (seeded for release {loaded.release})"
            _ready_line(fmt, document, text)
            wait_for_signal()
        finally:
            server.stop()
        return 0

    raise typer.Exit(guarded(fmt, run))
