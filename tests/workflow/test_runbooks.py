"""The on-call runbooks (runbooks/*.md) say only what is true.

Every ```console line starting with ``$ rollout`` must parse with the real CLI (unknown options and
missing required ones fail), every ``$ aws`` line must name a real operation with real parameters
(botocore's service models), and every link between pages must resolve. The placeholders are
filled from ``SAMPLES``, which is the table at the top of runbooks/README.md.

Then the lines that can run on the embedded engine do: the ``rollout`` lines of failed-gate.md and
hotfix.md roll the seed story forward (status, hotfix with the sample values, redrive after the
end), abort.md's abort ends another run ``FAILED``, stuck-execution.md's ``--force`` stops one, and
lock-left-behind.md's DynamoDB lines find and delete a lease left behind.
"""

from __future__ import annotations

import copy
import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import jmespath
import pytest
import typer
import yaml
from botocore import xform_name
from botocore.exceptions import ClientError
from botocore.session import get_session
from botocore.validate import validate_parameters
from typer.testing import CliRunner

from orchestrator.cli.app import app
from orchestrator.cli.connect import CliSettings
from orchestrator.operations import waiting_token
from orchestrator.release import ledger
from tests.workflow.conftest import MakeRun, wait_until

ROOT = Path(__file__).resolve().parents[2]
RUNBOOKS = ROOT / "runbooks"
PAGES = (
    "README.md",
    "start.md",
    "watch.md",
    "failed-gate.md",
    "hotfix.md",
    "extend-wait.md",
    "smoke-test.md",
    "approve-and-pause.md",
    "abort.md",
    "drain-timeout.md",
    "stuck-execution.md",
    "alias-drift.md",
    "lock-left-behind.md",
)
SECTIONS = ("## Symptoms", "## Check", "## Act", "## Done when")
SEED = yaml.safe_load((ROOT / "examples" / "seed.yaml").read_text())
SEED_BREAKS = yaml.safe_load(
    (ROOT / "examples" / "scenarios" / "seed-enrich-breaks.yaml").read_text()
)
RELEASE = SEED["release"]
TIMEOUT = 120.0

# The placeholders of runbooks/README.md and the sample values the commands run with here. They
# describe the seed story: enrich@18 breaks on ingest@43's schema 2 in `orders`; enrich@19 reads
# orders [1, 2] and writes enriched 1. The ARNs and the table are the embedded engine's.
SAMPLES: dict[str, str] = {
    "<MANIFEST>": "examples/seed.yaml",
    "<SCENARIO>": "examples/scenarios/seed-enrich-breaks.yaml",
    "<RELEASE>": RELEASE,
    "<COMPONENT>": "enrich",
    "<VERSION>": "19",
    "<QUEUE>": "orders",
    "<SCHEMAS>": "1,2",
    "<OUT_QUEUE>": "enriched",
    "<OUT_SCHEMA>": "1",
    "<REASON>": "bad data in orders",
    "<FUNCTION>": "enrich",
    "<ALIAS>": "live",
    "<ZIP>": "build/enrich.zip",
    "<STACK>": "rollout",
    "<STEP>": "Advance",
    "<STATE_MACHINE_ARN>": "arn:aws:states:us-east-1:123456789012:stateMachine:rollout",
    "<EXECUTION_ARN>": f"arn:aws:states:us-east-1:123456789012:execution:rollout:{RELEASE}",
    "<TABLE>": "rollout-releases",
    "<HOLDER>": "2026-11-27.3",
    "<HOLDER_EXECUTION_ARN>": (
        "arn:aws:states:us-east-1:123456789012:execution:rollout:2026-11-27.3"
    ),
    "<LEFT_VERSION>": "17",
    "<CANARY_VERSION>": "18",
    "<CANARY_WEIGHT>": "0.1",
    "<QUEUE_URL>": "https://sqs.eu-west-2.amazonaws.com/111122223333/orders",
    "<QUEUE_NAME>": "orders",
    "<QUEUE_ARN>": "arn:aws:sqs:eu-west-2:111122223333:orders",
    "<DLQ_URL>": "https://sqs.eu-west-2.amazonaws.com/111122223333/orders-dlq",
    "<DLQ_ARN>": "arn:aws:sqs:eu-west-2:111122223333:orders-dlq",
    "<MAPPING_UUID>": "a1b2c3d4-5678-90ab-cdef-11111EXAMPLE",
    "<START>": "2026-11-28T20:00:00Z",
    "<END>": "2026-11-28T23:00:00Z",
    "<DURATION>": "1m",
}
PLACEHOLDER = re.compile(r"<[A-Z][A-Z_]*>")
SHELL_OPERATORS = "|&;<>"
PROGRAMS = {"rollout", "aws", "export"}
cli = CliRunner()
# the CLI must find the engine's defaults, whatever the developer's shell exports
CLEAN_ENV: dict[str, str | None] = {
    "ROLLOUT_STATE_MACHINE_ARN": None,
    "ROLLOUT_TABLE_NAME": None,
    "ROLLOUT_TOPIC_ARN": None,
    "ROLLOUT_REGION": None,
}


def fill(text: str) -> str:
    """``text`` with every placeholder replaced by its sample value."""
    unknown = sorted(set(PLACEHOLDER.findall(text)) - SAMPLES.keys())
    assert not unknown, f"undocumented placeholder(s) {unknown} in: {text}"
    return PLACEHOLDER.sub(lambda match: SAMPLES[match.group()], text)


@dataclass(frozen=True)
class Command:
    """One ``$ ...`` line of a ```console block."""

    page: str
    lineno: int
    text: str
    """As written, without the ``$ ``."""

    @property
    def where(self) -> str:
        return f"runbooks/{self.page}:{self.lineno}: $ {self.text}"

    def argv(self) -> list[str]:
        """The filled-in command as the shell would split it, up to a pipe or redirection."""
        lexer = shlex.shlex(fill(self.text), posix=True, punctuation_chars=SHELL_OPERATORS)
        lexer.whitespace_split = True
        lexer.commenters = ""
        tokens = list(lexer)
        for index, token in enumerate(tokens):
            if set(token) <= set(SHELL_OPERATORS):
                return tokens[:index]
        return tokens

    @property
    def program(self) -> str:
        return self.argv()[0]

    @property
    def subcommand(self) -> str:
        return self.argv()[1]


FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```console[ \t]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S
)


def page_text(page: str) -> str:
    return (RUNBOOKS / page).read_text(encoding="utf-8")


def commands(*pages: str) -> list[Command]:
    found = []
    for page in pages or PAGES:
        text = page_text(page)
        for block in FENCE.finditer(text):
            first = text.count("\n", 0, block.start("body")) + 1
            indent = block.group("indent")
            for offset, raw in enumerate(block.group("body").splitlines()):
                line = raw.removeprefix(indent)
                if line.startswith("$ "):
                    found.append(Command(page, first + offset, line[2:].strip()))
    return found


def rollout_commands(*pages: str, subcommand: str | None = None) -> list[Command]:
    """The ``rollout`` lines of ``pages``, in order, without repeats."""
    out: list[Command] = []
    seen: set[tuple[str, ...]] = set()
    for command in commands(*pages):
        if command.program != "rollout":
            continue
        if subcommand is not None and command.subcommand != subcommand:
            continue
        key = tuple(command.argv())
        if key not in seen:
            seen.add(key)
            out.append(command)
    return out


def aws_commands(*pages: str) -> list[Command]:
    return [c for c in commands(*pages) if c.program == "aws"]


def ids(found: list[Command]) -> list[str]:
    return [f"{c.page}:{c.lineno}" for c in found]


# --- rollout lines: the real click command ----------------------------------------------------

CLI = typer.main.get_command(app)
# typer >= 0.22 vendors click: its usage errors derive from typer.TyperException, not click's
USAGE_ERRORS: tuple[type[Exception], ...] = (
    click.UsageError,
    getattr(typer, "TyperException", click.UsageError),
)


def parse_rollout(command: Command) -> tuple[str, dict[str, Any]]:
    """Parse a ``rollout`` line as the CLI would; fail on what the CLI would refuse."""
    argv = command.argv()
    subcommands: dict[str, Any] = getattr(CLI, "commands", {})
    assert len(argv) > 1, f"{command.where}: no subcommand"
    name = argv[1]
    sub = subcommands.get(name)
    assert sub is not None, f"{command.where}: no command {name!r} (have {sorted(subcommands)})"
    try:
        context = sub.make_context(f"rollout {name}", argv[2:])
    except USAGE_ERRORS as exc:
        pytest.fail(f"{command.where}: {getattr(exc, 'format_message', exc.__str__)()}")
    return name, context.params


# --- aws lines: botocore's service models -----------------------------------------------------

BOTOCORE = get_session()
AWS_FLAGS = {"--no-cli-pager", "--debug", "--no-paginate", "--no-sign-request"}
AWS_GLOBALS = {
    "--region",
    "--profile",
    "--output",
    "--query",
    "--endpoint-url",
    "--max-items",
    "--starting-token",
    "--page-size",
}
SCALARS = {"string": str, "integer": int, "long": int, "float": float, "double": float}


@dataclass
class AwsCall:
    service: str
    operation: str
    params: dict[str, Any] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    runnable: bool = True
    """Every value understood (no shorthand syntax, no file): it can be sent with boto3."""


def convert(shape: Any, values: list[str]) -> tuple[Any, bool]:
    """A CLI value as the API parameter, and whether it was understood exactly."""
    kind = shape.type_name
    if kind in SCALARS or kind == "timestamp":
        assert len(values) == 1, f"one value expected, got {values}"
        return (SCALARS.get(kind, str)(values[0]), True)
    if kind == "list":
        if len(values) == 1 and values[0].startswith("["):
            return json.loads(values[0]), True
        if shape.member.type_name in SCALARS:
            return [SCALARS[shape.member.type_name](v) for v in values], True
        return values, False  # shorthand
    if kind in {"structure", "map"}:
        assert len(values) == 1, f"one value expected, got {values}"
        if values[0].startswith("{"):
            return json.loads(values[0]), True  # must be valid JSON once filled in
        return values[0], False  # shorthand
    return values, False  # blob: fileb://...


def parse_aws(command: Command) -> AwsCall:
    """Check an ``aws`` line against botocore's model of the service; fail on what aws refuses."""
    argv = command.argv()
    where = command.where
    assert len(argv) >= 3, f"{where}: expected aws SERVICE OPERATION"
    service, verb, rest = argv[1], argv[2], argv[3:]
    assert service in BOTOCORE.get_available_services(), f"{where}: no service {service!r}"
    model = BOTOCORE.get_service_model(service)
    if verb == "wait":
        waiters = BOTOCORE.get_waiter_model(service)
        names = {xform_name(name, "-"): name for name in waiters.waiter_names}
        assert rest and rest[0] in names, f"{where}: no waiter {rest[:1]} (have {sorted(names)})"
        operation = waiters.get_waiter(names[rest[0]]).operation
        rest = rest[1:]
    else:
        operations = {xform_name(name, "-"): name for name in model.operation_names}
        assert verb in operations, f"{where}: {service} has no operation {verb!r}"
        operation = operations[verb]
    shape = model.operation_model(operation).input_shape
    members = {xform_name(name, "-"): name for name in (shape.members if shape else {})}
    call = AwsCall(service, operation)
    index = 0
    while index < len(rest):
        option = rest[index]
        index += 1
        assert option.startswith("--"), f"{where}: unexpected argument {option!r}"
        values = []
        while index < len(rest) and not rest[index].startswith("--"):
            values.append(rest[index])
            index += 1
        if option in AWS_FLAGS:
            assert not values, f"{where}: {option} takes no value"
            continue
        if option in AWS_GLOBALS:
            assert len(values) == 1, f"{where}: {option} takes one value"
            call.options[option] = values[0]
            continue
        key = option[2:]
        negated = key.startswith("no-") and key[3:] in members and key not in members
        name = members.get(key[3:] if negated else key)
        assert name is not None and shape is not None, f"{where}: {verb} has no option {option}"
        member = shape.members[name]
        if member.type_name == "boolean":
            assert not values, f"{where}: {option} is a flag"
            call.params[name] = not negated
            continue
        assert not negated, f"{where}: {option} is not a flag"
        assert values, f"{where}: {option} needs a value"
        try:
            call.params[name], exact = convert(member, values)
        except ValueError as exc:
            pytest.fail(f"{where}: {option}: {exc}")
        call.runnable = call.runnable and exact
    missing = [m for m in (shape.required_members if shape else []) if m not in call.params]
    assert not missing, f"{where}: missing required {[xform_name(m, '-') for m in missing]}"
    if "--query" in call.options:
        jmespath.compile(call.options["--query"])
    if call.runnable and shape is not None:
        validate_parameters(call.params, shape)
    return call


def run_aws(engine: Any, command: Command) -> Any:
    """Send an ``aws`` line to the engine with boto3; the answer after ``--query``."""
    call = parse_aws(command)
    assert call.runnable, f"{command.where}: cannot be sent as it is"
    client = engine.client(call.service)
    response = getattr(client, xform_name(call.operation))(**call.params)
    response.pop("ResponseMetadata", None)
    query = call.options.get("--query")
    return jmespath.search(query, response) if query else response


def only(found: list[Command], what: str) -> Command:
    assert len(found) == 1, f"expected one {what}, found {[c.where for c in found]}"
    return found[0]


def aws_line(page: str, verb: str) -> Command:
    return only([c for c in aws_commands(page) if c.argv()[2] == verb], f"aws {verb} in {page}")


# --- the pages themselves ---------------------------------------------------------------------


def slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    text = heading.strip().lower().replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return {slug(m.group(1)) for m in re.finditer(r"^#{1,6} (.+)$", text, re.M)}


def test_every_page_exists_with_its_sections() -> None:
    assert sorted(p.name for p in RUNBOOKS.glob("*.md")) == sorted(PAGES)
    for page in PAGES[1:]:
        text = page_text(page)
        positions = [text.find(f"\n{section}\n") for section in SECTIONS]
        assert all(p >= 0 for p in positions), f"{page}: needs {SECTIONS}, has {positions}"
        assert positions == sorted(positions), f"{page}: sections out of order"


def test_pages_the_code_points_to_exist_and_the_index_links_every_page() -> None:
    named = set()
    for source in (ROOT / "orchestrator").rglob("*.py"):
        named |= set(re.findall(r"runbooks/([\w.-]+\.md)", source.read_text(encoding="utf-8")))
    assert {"hotfix.md", "alias-drift.md", "drain-timeout.md", "failed-gate.md"} <= named
    for page in named:
        assert (RUNBOOKS / page).is_file(), f"the code points on-call to missing runbooks/{page}"
    index = page_text("README.md")
    for page in PAGES[1:]:
        assert f"]({page})" in index, f"README.md does not link {page}"


@pytest.mark.parametrize("page", PAGES)
def test_links_resolve(page: str) -> None:
    text = FENCE.sub("", page_text(page))
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    assert links, f"{page} links no other page"
    for link in links:
        if link.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = link.partition("#")
        target = (RUNBOOKS / path).resolve() if path else RUNBOOKS / page
        assert target.is_file(), f"{page}: link {link} points to nothing"
        if anchor:
            assert anchor in anchors(target), f"{page}: {link}: no heading #{anchor}"


def test_placeholders_are_the_documented_ones() -> None:
    rows = re.findall(r"^\| `(<[A-Z_]+>)` \| .+ \| `([^`]*)` \|$", page_text("README.md"), re.M)
    assert dict(rows) == SAMPLES, "runbooks/README.md's placeholder table and SAMPLES differ"
    used = {p for c in commands() for p in PLACEHOLDER.findall(c.text)}
    assert used == set(SAMPLES), f"documented but unused: {set(SAMPLES) - used}"


def test_every_command_is_one_line_of_a_known_program() -> None:
    found = commands()
    assert len(found) > 40
    for command in found:
        assert not command.text.endswith("\\"), f"{command.where}: keep a command on one line"
        assert command.program in PROGRAMS, f"{command.where}: unexpected program"


@pytest.mark.parametrize("command", rollout_commands(), ids=ids(rollout_commands()))
def test_rollout_line_parses_with_the_real_cli(command: Command) -> None:
    _, params = parse_rollout(command)
    assert "--engine" not in command.argv(), f"{command.where}: runbooks talk to AWS"
    if "release" in params:
        assert params["release"] in {RELEASE, SAMPLES["<HOLDER>"]}


@pytest.mark.parametrize("command", aws_commands(), ids=ids(aws_commands()))
def test_aws_line_names_a_real_operation(command: Command) -> None:
    parse_aws(command)


def test_exports_set_what_the_cli_reads() -> None:
    settings = {f"ROLLOUT_{name.upper()}" for name in CliSettings.model_fields}
    exports = [c for c in commands() if c.program == "export"]
    assert exports
    for command in exports:
        for assignment in command.argv()[1:]:
            variable, sep, value = assignment.partition("=")
            assert sep and value, f"{command.where}: expected NAME=value"
            assert variable in settings, f"{command.where}: the CLI does not read {variable}"


# --- the lines that run on the embedded engine ------------------------------------------------


def run_rollout(engine: Any, command: Command) -> Any:
    """Run a runbook's ``rollout`` line with ``--engine`` added; it must exit 0."""
    out = cli.invoke(app, [*command.argv()[1:], "--engine", engine.endpoint_url], env=CLEAN_ENV)
    assert out.exit_code == 0, f"{command.where}: exit {out.exit_code}\n{out.stdout}{out.stderr}"
    return out


def seed_manifest() -> dict[str, Any]:
    data: dict[str, Any] = copy.deepcopy(SEED)
    data["defaults"]["strategy"]["bake_seconds"] = 60
    return data


def seed_waiting_for_a_hotfix(dry: MakeRun) -> Any:
    """The seed story with no scenario hotfix: enrich@18 breaks and the release waits for one."""
    return dry(
        seed_manifest(),
        {**SEED_BREAKS, "hotfixes": []},
        auto_hotfix=False,
        hotfix_timeout_seconds=120,
    )


def queue_depth(engine: Any, name: str) -> int:
    sqs = engine.client("sqs")
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attrs["Attributes"]["ApproximateNumberOfMessages"])


@pytest.mark.workflow
def test_failed_gate_and_hotfix_lines_roll_the_seed_forward(dry: MakeRun, engine: Any) -> None:
    run = seed_waiting_for_a_hotfix(dry)
    lam = engine.client("lambda")  # the hotfix is published first: enrich@19
    lam.update_function_configuration(FunctionName="enrich", Description="hotfix")
    wait_until(
        lambda: (
            lam.get_function(FunctionName="enrich")["Configuration"]["LastUpdateStatus"]
            == "Successful"
        ),
        what="enrich updated",
    )
    assert lam.publish_version(FunctionName="enrich")["Version"] == SAMPLES["<VERSION>"]
    arn = run.start()
    assert arn == SAMPLES["<EXECUTION_ARN>"]
    assert run.deployment is not None
    assert run.deployment.state_machine_arn == SAMPLES["<STATE_MACHINE_ARN>"]
    ports = run.deployment.ports
    wait_until(lambda: waiting_token(ports, RELEASE), TIMEOUT, "the hotfix wait")

    # what the release asks for is what the sample hotfix line declares
    rollforward = ports.records.get(RELEASE, "rollforward") or {}
    assert rollforward["broken"] == SAMPLES["<COMPONENT>"]
    needs: Any = rollforward["requirements"]
    assert needs["reads"] == {SAMPLES["<QUEUE>"]: [int(s) for s in SAMPLES["<SCHEMAS>"].split(",")]}
    assert int(SAMPLES["<OUT_SCHEMA>"]) in needs["writes"][SAMPLES["<OUT_QUEUE>"]]

    pages = ("failed-gate.md", "hotfix.md")
    statuses = rollout_commands(*pages, subcommand="status")
    everywhere = [
        c
        for c in rollout_commands(*PAGES, subcommand="status")
        if c.text.startswith("rollout status <RELEASE>")
    ]
    assert statuses
    for command in everywhere:  # every status line of every page, on a waiting release
        run_rollout(engine, command)
    hotfix = only(rollout_commands(*pages, subcommand="hotfix"), "hotfix line")
    run_rollout(engine, hotfix)

    result = run.finish(arn, timeout=TIMEOUT)
    assert result.status == "ROLLED_FORWARD", result.report.get("error")
    final = result.report["final"]
    assert final["enrich"]["weights"] == {SAMPLES["<VERSION>"]: 100.0}
    assert final["ingest"]["weights"] == {"43": 100.0}
    dead = result.messages["orders-dlq"]["queued"]
    assert dead > 0, "the broken version dead-lettered messages"
    assert queue_depth(engine, "orders-dlq") == dead

    redrives = rollout_commands(*pages, subcommand="redrive")
    assert redrives
    for command in redrives:
        run_rollout(engine, command)
    assert queue_depth(engine, "orders-dlq") == 0
    for command in statuses:
        out = run_rollout(engine, command)
        if "--format" not in command.argv():
            assert "final status: ROLLED_FORWARD" in out.stdout


@pytest.mark.workflow
def test_extend_wait_lines_extend_a_waiting_release(dry: MakeRun, engine: Any) -> None:
    run = seed_waiting_for_a_hotfix(dry)
    arn = run.start()
    assert run.deployment is not None
    ports = run.deployment.ports
    wait_until(lambda: waiting_token(ports, RELEASE), TIMEOUT, "the hotfix wait")
    page = "extend-wait.md"
    extend = only(rollout_commands(page, subcommand="hotfix"), "hotfix --extend line")
    assert "--extend" in extend.argv()
    run_rollout(engine, extend)
    for command in rollout_commands(page, subcommand="status"):
        out = run_rollout(engine, command)
        if "--format" in command.argv():
            waiting = json.loads(out.stdout)["waiting_for_hotfix"]
            assert len(waiting["extensions"]) == 1
            assert waiting["extensions"][0]["seconds"] == 60
        else:
            assert "extended 1 time" in out.stdout
    parked = waiting_token(ports, RELEASE) or {}
    assert parked.get("heartbeat_at")
    stop = ["abort", RELEASE, "--reason", "test over", "--engine", engine.endpoint_url]
    assert cli.invoke(app, stop, env=CLEAN_ENV).exit_code == 0
    assert run.finish(arn, timeout=TIMEOUT).status == "FAILED"


@pytest.mark.workflow
def test_approve_and_pause_lines_answer_a_waiting_release(dry: MakeRun, engine: Any) -> None:
    from orchestrator.release import approvals

    data = seed_manifest()
    data["components"]["enrich"]["strategy"] = {"approve_before": [50]}
    run = dry(data, {"noise": False}, auto_hotfix=False)
    arn = run.start()
    assert run.deployment is not None
    records = run.deployment.ports.records
    wait_until(lambda: approvals.parked_approvals(records, RELEASE), TIMEOUT, "the approval")
    page = "approve-and-pause.md"
    for command in rollout_commands(page, subcommand="status"):
        out = run_rollout(engine, command)
        if "--format" in command.argv():
            assert json.loads(out.stdout)["approvals"][0]["component"] == "enrich"
        else:
            assert "Waiting for approval" in out.stdout
    run_rollout(engine, only(rollout_commands(page, subcommand="pause"), "pause line"))
    run_rollout(engine, only(rollout_commands(page, subcommand="approve"), "approve line"))
    run_rollout(engine, only(rollout_commands(page, subcommand="resume"), "resume line"))
    assert run.finish(arn, timeout=TIMEOUT).status == "SUCCEEDED"


@pytest.mark.workflow
def test_smoke_test_lines_show_a_failed_smoke_test(dry: MakeRun, engine: Any) -> None:
    data = seed_manifest()
    data["components"]["enrich"]["smoke"] = {"payload": {"order": 1}, "expect": {"status": 200}}
    scenario = {"traffic_per_minute": 600, "versions": {"enrich@18": {"smoke": "fail"}}}
    run = dry(data, scenario, auto_hotfix=False, hotfix_timeout_seconds=120)
    arn = run.start()
    assert run.deployment is not None
    ports = run.deployment.ports
    wait_until(lambda: waiting_token(ports, RELEASE), TIMEOUT, "the hotfix wait")
    page = "smoke-test.md"
    for command in rollout_commands(page, subcommand="status"):
        out = run_rollout(engine, command)
        if "--format" in command.argv():
            verdict = json.loads(out.stdout)["components"]["enrich"]["last_verdict"]
            assert (verdict["phase"], verdict["step"]) == ("FAILED", 0)
            assert verdict["reasons"][0].startswith("smoke test: the function raised")
        else:
            assert "Waiting for a hotfix of enrich" in out.stdout
    assert run_aws(engine, aws_line(page, "get-alias"))["FunctionVersion"] == "17"
    for command in rollout_commands(page, subcommand="validate"):
        run_rollout_offline(command)
    stop = ["abort", RELEASE, "--reason", "test over", "--engine", engine.endpoint_url]
    assert cli.invoke(app, stop, env=CLEAN_ENV).exit_code == 0
    assert run.finish(arn, timeout=TIMEOUT).status == "FAILED"


def run_rollout_offline(command: Command) -> Any:
    """A runbook line that talks to no engine (validate, plan); it must exit 0."""
    out = cli.invoke(app, command.argv()[1:], env=CLEAN_ENV)
    assert out.exit_code == 0, f"{command.where}: exit {out.exit_code}\n{out.stdout}{out.stderr}"
    return out


@pytest.mark.workflow
def test_abort_line_ends_a_waiting_release(dry: MakeRun, engine: Any) -> None:
    run = seed_waiting_for_a_hotfix(dry)
    arn = run.start()
    assert run.deployment is not None
    ports = run.deployment.ports
    wait_until(lambda: waiting_token(ports, RELEASE), TIMEOUT, "the hotfix wait")
    aborts = [
        c for c in rollout_commands("abort.md", subcommand="abort") if "--force" not in c.argv()
    ]
    run_rollout(engine, only(aborts, "abort line without --force in abort.md"))

    result = run.finish(arn, timeout=TIMEOUT)
    assert result.status == "FAILED"
    assert result.report["error"]["Error"] == "ReleaseAbortedError"
    final = result.report["final"]
    assert final["enrich"]["weights"] == {"18": 100.0}  # held, not moved back
    assert final["ingest"]["weights"] == {"42": 100.0}  # pulled back before the wait
    assert ports.leases.holder("enrich:live", run.clock.now()) is None
    for command in rollout_commands("abort.md", subcommand="status"):
        assert "final status: FAILED" in run_rollout(engine, command).stdout
    assert run_aws(engine, aws_line("abort.md", "describe-execution")) == "FAILED"


@pytest.mark.workflow
def test_stuck_execution_force_abort_stops_the_execution(dry: MakeRun, engine: Any) -> None:
    run = dry(seed_manifest(), time_scale=0.2)  # a 60 s bake takes 12 s: the abort lands mid-bake
    run.start()
    assert run.deployment is not None
    ports = run.deployment.ports
    wait_until(
        lambda: ports.leases.holder("enrich:live", run.clock.now()) == RELEASE,
        TIMEOUT,
        "the release's leases",
    )
    forced = only(rollout_commands("stuck-execution.md", subcommand="abort"), "abort line")
    assert "--force" in forced.argv()
    run_rollout(engine, forced)
    page = "stuck-execution.md"
    describes = [c for c in aws_commands(page) if c.argv()[2] == "describe-execution"]
    assert describes

    def status_of(command: Command) -> str:
        answer = run_aws(engine, command)
        return str(answer if isinstance(answer, str) else answer["status"])

    def stopped() -> str | None:
        status = status_of(describes[-1])
        return None if status == "RUNNING" else status

    status = wait_until(stopped, TIMEOUT, "the execution to stop")
    assert status in {"ABORTED", "FAILED"}
    for command in describes:
        assert status_of(command) == status, command.where
    histories = [c for c in aws_commands(page) if c.argv()[2] == "get-execution-history"]
    assert histories
    ended = "ExecutionAborted" if status == "ABORTED" else "ExecutionFailed"

    def newest(events: list[dict[str, Any]]) -> str:
        return str(max(events, key=lambda e: int(e["id"]))["type"])

    for command in histories:  # the last events first
        events = run_aws(engine, command)
        assert isinstance(events, list), command.where
        if "contains(type, 'Failed')" in command.text:
            # only failures: an abort that caught no step mid-way (the engine stops it at once)
            # leaves none, a force-stop that failed a running task leaves that task's
            assert all("Failed" in e["type"] or "TimedOut" in e["type"] for e in events)
            assert (status == "FAILED") <= (bool(events) and newest(events) == ended)
        else:  # ours ends with the stop
            assert events and newest(events) == ended, command.where
    assert ledger.flag(ports.records, RELEASE, "abort") is not None


@pytest.mark.workflow
def test_lock_left_behind_lines_find_and_delete_the_lease(dry: MakeRun, engine: Any) -> None:
    holder = SAMPLES["<HOLDER>"]
    run = dry(seed_manifest())
    assert run.deployment is not None
    ports = run.deployment.ports
    lease = f"{SAMPLES['<FUNCTION>']}:{SAMPLES['<ALIAS>']}"
    ports.leases.acquire(lease, holder, 3600, run.clock.now())  # left by a stopped release
    result = run.finish(run.start(), timeout=TIMEOUT)
    assert (result.execution.status, result.execution.error) == ("FAILED", "LockConflictError")
    assert ledger.actions(ports.records, RELEASE) == []  # nothing moved

    page = "lock-left-behind.md"
    failed = json.dumps(run_aws(engine, aws_line(page, "get-execution-history")), default=str)
    assert f"leased by '{holder}'" in failed
    assert f"component '{lease}'" in failed
    assert run_aws(engine, aws_line(page, "get-item"))["Item"]["owner"] == {"S": holder}
    [item] = run_aws(engine, aws_line(page, "scan"))["Items"]
    assert item["pk"] == {"S": f"lease#{lease}"}  # the store's own prefix on the error's key
    with pytest.raises(ClientError) as missing:
        run_aws(engine, aws_line(page, "describe-execution"))
    assert missing.value.response["Error"]["Code"] == "ExecutionDoesNotExist"
    run_aws(engine, aws_line(page, "delete-item"))
    assert "Item" not in run_aws(engine, aws_line(page, "get-item"))
    assert ports.leases.holder(lease, run.clock.now()) is None
