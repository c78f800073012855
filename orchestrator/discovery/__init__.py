"""Component graph (and a manifest skeleton) from a SAM / CloudFormation template.

Pure: no AWS calls, no network, no boto3. Four public functions (``rollout discover TEMPLATE``
wires them)::

    template = load_template("template.yaml")    # YAML with !Ref/!GetAtt/... or JSON
    graph = discover(template)                    # Graph: nodes, edges, evidence, confidence
    graph_to_dict(graph)                          # JSON-able; INDEX-style "A->B" lists
    to_manifest_skeleton(graph, release="...")    # DESIGN §3 manifest as a plain dict

Nodes are CloudFormation logical IDs; a queue outside the stack is ``param/<Parameter>[+...]`` or
``import/<export>``. Every edge carries evidence tokens (the vocabulary of
``shared/realworld/INDEX.md``) and a confidence: ``high`` and ``medium`` edges are the graph,
``low`` ones are reported under ``Graph.hints`` and never used for the skeleton.

Rules
=====

**consumes** (queue -> function): a SAM ``Events: {Type: SQS}`` (``event/SQS``) or an
``AWS::Lambda::EventSourceMapping`` (``esm``; ``FunctionName`` may name the function, its ARN, an
alias or a version). A receive permission on that queue is added as evidence. A receive permission
without an event source (``SQSPollerPolicy`` alone) is *not* a consume edge.

**consumes_polling**: the function references the queue (env var), may receive from it, has no
event source on it, and its *inline* code (``ZipFile`` / ``InlineCode``) calls ReceiveMessage. With
a scoped receive permission and a reference but no visible code, it is only a hint.

**dlq** (queue -> dead-letter queue): the queue's ``RedrivePolicy.deadLetterTargetArn``
(``redrive``; a JSON-string policy is read too). A redrive is never a produce edge, and a queue
named "DLQ" without a redrive pointing at it is an ordinary queue.

**produces** (function -> queue) needs evidence that the function may *send*. A reference alone
(an env var holding the queue URL) is never enough. The first hop is function -> queue, topic or
event bus, taken from the function's permissions: SAM policy templates (``SQSSendMessagePolicy``,
``SNSPublishMessagePolicy``, ``SNSCrudPolicy``, ``EventBridgePutEventsPolicy``), inline statements
(``sqs:SendMessage*``, ``sns:Publish``, ``events:PutEvents``, wildcards understood), AWS managed
policies (``AmazonSQSFullAccess``...), standalone ``AWS::IAM::Policy`` / ``ManagedPolicy`` attached
to the function's role (``Roles``; SAM's implicit ``<Function>Role`` too), SAM connectors with
``Write``, and Lambda ``OnSuccess`` destinations. Its confidence:

* *scoped* (the permission references the node, or names its literal name): **high**. If it only
  comes through a role shared by several functions, a function that references the node (env var,
  ``DependsOn``) keeps **high**, the sharers that do not become hints; if no sharer references it,
  every sharer gets **medium** (a conservative choice: an extra edge costs an ordering constraint,
  a missing one an unsafe release).
* *wildcard* (``QueueName: app-*`` matching literal queue names): **medium** with a reference to
  the node (env var or ``DependsOn``), otherwise a hint.
* *unscoped* (``Resource: "*"``, ``AmazonSQSFullAccess``): **medium** with a reference to the node
  (e.g. ``QUEUE_URL: !Ref Q``); a hint when the node is the only one of its kind leading to a
  queue; otherwise nothing.
* Inline code is the arbiter for the two weaker rules: when it is in the template and never calls
  the send API (SendMessage, Publish, PutEvents), the edge is demoted to a hint.
* A send permission on a queue the function itself consumes (self-loop) is demoted one level.

Then the path is collapsed to queues: a topic reaches every queue subscribed with
``Protocol: sqs`` (inline ``Subscription`` or ``AWS::SNS::Subscription``; a ``FilterPolicy`` caps
the path at medium); an event bus reaches the queues its rules target (``Targets[].Arn``) - at
medium when the bus has exactly one rule, as a hint when it has several (which rule matches
depends on the ``source`` / ``detail-type`` the code emits). ``Edge.via`` keeps the full paths.

**non_lambda_producers**: SNS subscriptions (topic -> queue), EventBridge rule targets (rule ->
queue), S3 ``QueueConfigurations`` (bucket -> queue), EventBridge Scheduler targets, API Gateway
SQS integrations (``x-amazon-apigateway-integration`` in a ``DefinitionBody``, ``AWS::ApiGateway::
Method``, ``AWS::ApiGatewayV2::Integration``), and state machines judged by the same permission
rules as functions (plus ``sfn-substitution/<key>`` evidence). A queue policy that lets the source
or its service principal send adds ``queue-policy``; queue policies alone never make an edge.

**failure_destinations**: ``OnFailure`` destinations and Lambda dead-letter queues (function ->
queue). They carry the *input* event, not the function's output, so they are not produce edges.

**conditional**: graph nodes with a ``Condition``; every edge lists the conditions of the
resources it depends on. ``Fn::If`` is read as "either branch".

Known limits
============

* Code is not read, except inline ``ZipFile`` / ``InlineCode``: a function that finds its queue at
  run time (bundled config, ``ListTopics``) is at best a hint, and an EventBridge rule's pattern is
  not matched against what the code emits.
* ASL outside the template (``DefinitionUri``) is not read; state machine edges come from
  permissions, connectors and substitutions.
* ``Deny`` statements, permission boundaries, SCPs and resource policies do not remove edges.
* Parameters are rendered with their ``Default`` when matching names; queues without a literal
  ``QueueName`` match wildcard permissions only through ``*``.
* Only the template itself: nested stacks, macros other than SAM, ``AWS::Include`` and
  cross-stack wiring through SSM are not followed (``Graph.notes`` says so when it sees them).
* Lambda -> state machine, SNS -> Lambda and task-token callbacks (INDEX ``other_edges``) are not
  reported.
"""

from __future__ import annotations

from orchestrator.discovery.analyze import discover
from orchestrator.discovery.loader import load_template
from orchestrator.discovery.model import Edge, Graph, graph_to_dict
from orchestrator.discovery.skeleton import to_manifest_skeleton

__all__ = ["Edge", "Graph", "discover", "graph_to_dict", "load_template", "to_manifest_skeleton"]
