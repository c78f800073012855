"""One tiny template per discovery rule: which construct makes which edge, at which confidence."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.discovery import Edge, Graph, discover, graph_to_dict
from orchestrator.discovery.loader import parse_template


def graph(text: str) -> Graph:
    return discover(parse_template(text))


def edge(g: Graph, name: str) -> Edge:
    matches = [e for e in g.edges if e.name == name]
    assert len(matches) == 1, f"{name} not among {[e.name for e in g.edges]}"
    return matches[0]


def hint(g: Graph, name: str) -> Edge:
    matches = [e for e in g.hints if e.name == name]
    assert len(matches) == 1, f"{name} not among hints {[e.name for e in g.hints]}"
    return matches[0]


def names(g: Graph, kind: str) -> set[str]:
    return {e.name for e in g.edges if e.kind == kind}


def hint_names(g: Graph) -> set[str]:
    return {e.name for e in g.hints}


QUEUES = """
  Q:
    Type: AWS::SQS::Queue
  Other:
    Type: AWS::SQS::Queue
"""

# -- consumes ---------------------------------------------------------------------------------


def test_sam_sqs_event_is_a_consume_edge_in_short_and_long_form() -> None:
    g = graph(
        f"""
Resources:{QUEUES}
  A:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Other:
          Type: SQS
          Properties:
            Queue: !GetAtt Q.Arn
  B:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - SQSPollerPolicy: {{QueueName: !GetAtt Other.QueueName}}
      Events:
        E:
          Type: SQS
          Properties:
            Queue:
              Fn::GetAtt: [Other, Arn]
"""
    )
    assert names(g, "consumes") == {"Q->A", "Other->B"}  # the event *named* Other is not a ref
    assert edge(g, "Q->A").evidence == ("event/SQS",)
    assert edge(g, "Other->B").evidence == ("event/SQS", "policy/SQSPollerPolicy")
    assert edge(g, "Q->A").confidence == "high"


def test_event_source_mapping_names_function_by_ref_arn_alias_or_name() -> None:
    g = graph(
        f"""
Resources:{QUEUES}
  F1: {{Type: AWS::Lambda::Function, Properties: {{FunctionName: fixed-name}}}}
  F2: {{Type: AWS::Lambda::Function}}
  F3: {{Type: AWS::Lambda::Function}}
  F3Alias: {{Type: AWS::Lambda::Alias, Properties: {{FunctionName: !Ref F3, Name: live}}}}
  M1:
    Type: AWS::Lambda::EventSourceMapping
    Properties: {{EventSourceArn: !GetAtt Q.Arn, FunctionName: !Ref F2}}
  M2:
    Type: AWS::Lambda::EventSourceMapping
    Properties: {{EventSourceArn: !GetAtt Other.Arn, FunctionName: !GetAtt F2.Arn}}
  M3:
    Type: AWS::Lambda::EventSourceMapping
    Properties: {{EventSourceArn: !GetAtt Q.Arn, FunctionName: !Ref F3Alias}}
  M4:
    Type: AWS::Lambda::EventSourceMapping
    Properties: {{EventSourceArn: !GetAtt Q.Arn, FunctionName: fixed-name}}
  M5:
    Type: AWS::Lambda::EventSourceMapping
    Properties:
      EventSourceArn: !GetAtt Q.Arn
      FunctionName: arn:aws:lambda:eu-west-2:111122223333:function:elsewhere
"""
    )
    assert names(g, "consumes") == {"Q->F2", "Other->F2", "Q->F3", "Q->F1"}
    assert edge(g, "Q->F2").evidence == ("esm",)
    assert any("M5" in note for note in g.notes)


def test_disabled_event_source_is_a_medium_edge() -> None:
    g = graph(
        f"""
Resources:{QUEUES}
  A:
    Type: AWS::Serverless::Function
    Properties:
      Events: {{E: {{Type: SQS, Properties: {{Queue: !GetAtt Q.Arn, Enabled: false}}}}}}
"""
    )
    assert edge(g, "Q->A").confidence == "medium"
    assert "disabled" in edge(g, "Q->A").reason


def test_poller_policy_without_event_source_is_not_a_consume_edge() -> None:
    g = graph(
        f"""
Resources:{QUEUES}
  A:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - SQSPollerPolicy: {{QueueName: !GetAtt Q.QueueName}}
        - SQSPollerPolicy: {{QueueName: !GetAtt Other.QueueName}}
      Environment: {{Variables: {{URL: !Ref Q}}}}
"""
    )
    assert not g.consumes
    assert not g.consumes_polling
    # the referenced one is a hint: the code may poll it
    assert hint_names(g) == {"Q->A"}
    assert hint(g, "Q->A").kind == "consumes_polling"


def test_inline_code_that_receives_is_a_polling_consumer() -> None:
    g = graph(
        f"""
Resources:{QUEUES}
  Role:
    Type: AWS::IAM::Role
    Properties:
      ManagedPolicyArns: [arn:aws:iam::aws:policy/AmazonSQSFullAccess]
  F:
    Type: AWS::Lambda::Function
    Properties:
      Role: !GetAtt Role.Arn
      Code:
        ZipFile: |
          import boto3, os
          def handler(event, context):
              boto3.client("sqs").receive_message(QueueUrl=os.environ["QUEUE"])
      Environment: {{Variables: {{QUEUE: !Ref Q}}}}
"""
    )
    assert names(g, "consumes_polling") == {"Q->F"}
    assert edge(g, "Q->F").evidence == (
        "env/QUEUE",
        "policy/managed-AmazonSQSFullAccess",
        "inline-code",
    )
    assert not g.produces  # unscoped send + env var, but the code never sends
    assert "never calls SendMessage" in hint(g, "F->Q").reason
    assert g.unlinked == ()


# -- dlq ----------------------------------------------------------------------------------------


def test_redrive_policy_is_a_dlq_edge_not_a_produce_edge() -> None:
    g = graph(
        """
Resources:
  Main:
    Type: AWS::SQS::Queue
    Properties:
      RedrivePolicy: {deadLetterTargetArn: !GetAtt Dead.Arn, maxReceiveCount: 3}
  Old:
    Type: AWS::SQS::Queue
    Properties:
      RedrivePolicy: >-
        {"deadLetterTargetArn": "arn:aws:sqs:eu-west-2:111122223333:dead",
        "maxReceiveCount": 1}
  Dead:
    Type: AWS::SQS::Queue
    Properties: {QueueName: dead}
  C:
    Type: AWS::Serverless::Function
    Properties:
      Events: {E: {Type: SQS, Properties: {Queue: !GetAtt Main.Arn}}}
"""
    )
    assert names(g, "dlq") == {"Main->Dead", "Old->Dead"}
    assert edge(g, "Main->Dead").evidence == ("redrive",)
    assert not g.produces


# -- produces: scoped permissions -----------------------------------------------------------------


def test_env_var_alone_is_not_a_produce_edge() -> None:
    g = graph(
        f"""
Resources:{QUEUES}
  A:
    Type: AWS::Serverless::Function
    Properties:
      Environment: {{Variables: {{URL: !Ref Q, NAME: !GetAtt Other.QueueName}}}}
"""
    )
    assert not g.produces
    assert not g.hints
    assert g.unlinked == ("A",)


def test_sam_send_policy_template_is_a_high_produce_edge() -> None:
    g = graph(
        f"""
Resources:{QUEUES}
  A:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - SQSSendMessagePolicy: {{QueueName: !GetAtt Q.QueueName}}
"""
    )
    e = edge(g, "A->Q")
    assert (e.kind, e.confidence, e.evidence) == (
        "produces",
        "high",
        ("policy/SQSSendMessagePolicy",),
    )


def test_send_policy_by_literal_queue_name_is_scoped() -> None:
    g = graph(
        """
Parameters:
  Prefix: {Type: String, Default: app}
Resources:
  Q:
    Type: AWS::SQS::Queue
    Properties: {QueueName: !Sub "${Prefix}-orders"}
  A:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - SQSSendMessagePolicy: {QueueName: app-orders}
"""
    )
    assert edge(g, "A->Q").confidence == "high"


@pytest.mark.parametrize(
    "resource",
    [
        "!GetAtt Q.Arn",
        "[!GetAtt Q.Arn]",
        "!Sub 'arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${Q.QueueName}'",
        "!Join ['', ['arn:aws:sqs:', !Ref 'AWS::Region', ':', !Ref 'AWS::AccountId', ':',"
        " !GetAtt Q.QueueName]]",
    ],
)
def test_inline_statement_scoped_to_the_queue(resource: str) -> None:
    g = graph(
        f"""
Resources:{QUEUES}
  A:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - Statement:
            - Effect: Allow
              Action: [sqs:SendMessage, sqs:GetQueueUrl]
              Resource: {resource}
"""
    )
    assert names(g, "produces") == {"A->Q"}
    assert edge(g, "A->Q").evidence == ("policy/inline",)


@pytest.mark.parametrize(
    ("action", "produces"),
    [
        ("sqs:SendMessage", True),
        ("sqs:SendMessageBatch", False),
        ("sqs:SendMessage*", True),
        ("SQS:sendmessage", True),
        ("sqs:*", True),
        ("sqs:Send*", True),
        ("sqs:ReceiveMessage", False),
        ("sns:Publish", False),
    ],
)
def test_send_action_matching(action: str, produces: bool) -> None:
    g = graph(
        f"""
Resources:{QUEUES}
  A:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - Statement:
            - {{Effect: Allow, Action: "{action}", Resource: !GetAtt Q.Arn}}
"""
    )
    assert (names(g, "produces") == {"A->Q"}) is produces


def test_deny_statements_grant_nothing() -> None:
    g = graph(
        f"""
Resources:{QUEUES}
  A:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - Statement:
            - {{Effect: Deny, Action: sqs:SendMessage, Resource: !GetAtt Q.Arn}}
"""
    )
    assert not g.produces


def test_standalone_iam_policy_attached_to_the_functions_role() -> None:
    g = graph(
        f"""
Resources:{QUEUES}
  Role: {{Type: AWS::IAM::Role}}
  SendPolicy:
    Type: AWS::IAM::Policy
    Properties:
      Roles: [!Ref Role]
      PolicyDocument:
        Statement: [{{Effect: Allow, Action: sqs:SendMessage, Resource: !GetAtt Q.Arn}}]
  F:
    Type: AWS::Lambda::Function
    Properties: {{Role: !GetAtt Role.Arn}}
"""
    )
    e = edge(g, "F->Q")
    assert (e.confidence, e.evidence) == ("high", ("iam-policy/SendPolicy",))


def test_managed_policy_resource_in_managed_policy_arns_and_on_sam_implicit_role() -> None:
    g = graph(
        f"""
Resources:{QUEUES}
  Send:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Statement: [{{Effect: Allow, Action: sqs:SendMessage, Resource: !GetAtt Q.Arn}}]
  Role:
    Type: AWS::IAM::Role
    Properties: {{ManagedPolicyArns: [!Ref Send]}}
  F:
    Type: AWS::Lambda::Function
    Properties: {{Role: !GetAtt Role.Arn}}
  OnImplicit:
    Type: AWS::IAM::Policy
    Properties:
      Roles: [!Ref SamFnRole]
      PolicyDocument:
        Statement: [{{Effect: Allow, Action: sqs:SendMessage, Resource: !GetAtt Other.Arn}}]
  SamFn:
    Type: AWS::Serverless::Function
"""
    )
    assert edge(g, "F->Q").evidence == ("iam-policy/Send",)
    assert edge(g, "SamFn->Other").evidence == ("iam-policy/OnImplicit",)


def test_role_inline_policy_and_sam_role_overrides_policies() -> None:
    g = graph(
        f"""
Resources:{QUEUES}
  Role:
    Type: AWS::IAM::Role
    Properties:
      Policies:
        - PolicyName: send
          PolicyDocument:
            Statement: [{{Effect: Allow, Action: sqs:SendMessage, Resource: !GetAtt Q.Arn}}]
  F:
    Type: AWS::Serverless::Function
    Properties:
      Role: !GetAtt Role.Arn
      Policies:  # SAM ignores Policies when Role is given
        - SQSSendMessagePolicy: {{QueueName: !GetAtt Other.QueueName}}
"""
    )
    assert names(g, "produces") == {"F->Q"}
    assert edge(g, "F->Q").evidence == ("policy/inline",)


def test_role_outside_the_template_is_noted() -> None:
    g = graph(
        f"""
Resources:{QUEUES}
  F:
    Type: AWS::Lambda::Function
    Properties:
      Role: arn:aws:iam::111122223333:role/shared
      Environment: {{Variables: {{URL: !Ref Q}}}}
"""
    )
    assert not g.produces
    assert any("permissions are unknown" in n for n in g.notes)


SHARED_ROLE = """
Resources:
  Q: {Type: AWS::SQS::Queue}
  Role: {Type: AWS::IAM::Role}
  Send:
    Type: AWS::IAM::Policy
    Properties:
      Roles: [!Ref Role]
      PolicyDocument:
        Statement: [{Effect: Allow, Action: "sqs:SendMessage*", Resource: !GetAtt Q.Arn}]
  A:
    Type: AWS::Serverless::Function
    Properties:
      Role: !GetAtt Role.Arn
      Environment: {Variables: {X: "1"%s}}
  B:
    Type: AWS::Serverless::Function
    Properties: {Role: !GetAtt Role.Arn}
"""


def test_shared_role_the_function_that_references_the_queue_is_the_producer() -> None:
    g = graph(SHARED_ROLE % ", URL: !Ref Q")
    assert names(g, "produces") == {"A->Q"}
    assert edge(g, "A->Q").confidence == "high"
    assert edge(g, "A->Q").evidence == ("iam-policy/Send", "env/URL")
    assert "B" in hint(g, "B->Q").reason
    assert "A reference" in hint(g, "B->Q").reason


def test_shared_role_without_any_reference_makes_every_sharer_a_medium_producer() -> None:
    g = graph(SHARED_ROLE % "")
    assert names(g, "produces") == {"A->Q", "B->Q"}
    assert {e.confidence for e in g.produces} == {"medium"}
    assert "shared with" in edge(g, "A->Q").reason


def test_sam_connector_write_to_a_queue() -> None:
    g = graph(
        f"""
Resources:{QUEUES}
  F: {{Type: AWS::Serverless::Function}}
  C:
    Type: AWS::Serverless::Connector
    Properties:
      Source: {{Id: F}}
      Destination: {{Id: Q}}
      Permissions: [Write]
  G:
    Type: AWS::Serverless::Function
    Connectors:
      ToOther:
        Properties:
          Destination: [{{Id: Other}}]
          Permissions: [Read, Write]
  ReadOnly:
    Type: AWS::Serverless::Connector
    Properties:
      Source: {{Id: F}}
      Destination: {{Id: Other}}
      Permissions: [Read]
"""
    )
    assert names(g, "produces") == {"F->Q", "G->Other"}
    assert edge(g, "F->Q").evidence == ("connector",)
    assert edge(g, "F->Q").confidence == "high"


def test_on_success_destination_produces_and_failure_destinations_do_not() -> None:
    g = graph(
        f"""
Resources:{QUEUES}
  Dlq: {{Type: AWS::SQS::Queue}}
  F:
    Type: AWS::Serverless::Function
    Properties:
      DeadLetterQueue: {{Type: SQS, TargetArn: !GetAtt Dlq.Arn}}
      EventInvokeConfig:
        DestinationConfig:
          OnSuccess: {{Type: SQS, Destination: !GetAtt Q.Arn}}
          OnFailure: {{Type: SQS, Destination: !GetAtt Other.Arn}}
"""
    )
    assert names(g, "produces") == {"F->Q"}
    assert edge(g, "F->Q").evidence == ("destination/OnSuccess",)
    assert names(g, "failure_destinations") == {"F->Other", "F->Dlq"}


# -- produces: weaker evidence ------------------------------------------------------------------


def test_unscoped_send_plus_env_var_is_a_medium_edge_to_that_queue_only() -> None:
    g = graph(
        f"""
Resources:{QUEUES}
  A:
    Type: AWS::Serverless::Function
    Properties:
      Policies: [AmazonSQSFullAccess]
      Environment: {{Variables: {{OUT: !Ref Q}}}}
"""
    )
    assert names(g, "produces") == {"A->Q"}
    e = edge(g, "A->Q")
    assert (e.confidence, e.evidence) == (
        "medium",
        ("policy/managed-AmazonSQSFullAccess", "env/OUT"),
    )
    assert "unscoped" in e.reason
    assert not g.hints


def test_unscoped_send_with_no_reference_and_one_queue_is_a_hint() -> None:
    g = graph(
        """
Resources:
  Q: {Type: AWS::SQS::Queue}
  A:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - Statement: [{Effect: Allow, Action: "sqs:*", Resource: "*"}]
"""
    )
    assert not g.produces
    assert hint(g, "A->Q").confidence == "low"


def test_unscoped_send_with_no_reference_and_several_queues_is_nothing() -> None:
    g = graph(
        f"""
Resources:{QUEUES}
  A:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - Statement: [{{Effect: Allow, Action: "sqs:SendMessage", Resource: "arn:aws:sqs:*:*:*"}}]
"""
    )
    assert not g.produces
    assert not g.hints


def test_wildcard_queue_name_needs_a_reference() -> None:
    text = """
Resources:
  Work: {Type: AWS::SQS::Queue, Properties: {QueueName: app-work}}
  WorkDlq: {Type: AWS::SQS::Queue, Properties: {QueueName: app-work-dlq}}
  Elsewhere: {Type: AWS::SQS::Queue, Properties: {QueueName: other-work}}
  F:
    Type: AWS::Serverless::Function
    %s
    Properties:
      Policies:
        - SQSSendMessagePolicy: {QueueName: app-*}
"""
    g = graph(text % "DependsOn: [Work]")
    assert names(g, "produces") == {"F->Work"}
    assert edge(g, "F->Work").confidence == "medium"
    assert edge(g, "F->Work").evidence == ("policy/SQSSendMessagePolicy", "depends-on")
    assert hint_names(g) == {"F->WorkDlq"}
    g = graph(text % "")
    assert not g.produces
    assert hint_names(g) == {"F->Work", "F->WorkDlq"}


def test_self_loop_is_demoted() -> None:
    g = graph(
        f"""
Resources:{QUEUES}
  A:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - SQSSendMessagePolicy: {{QueueName: !GetAtt Q.QueueName}}
        - AmazonSQSFullAccess
      Environment: {{Variables: {{SELF: !Ref Other}}}}
      Events:
        E1: {{Type: SQS, Properties: {{Queue: !GetAtt Q.Arn}}}}
        E2: {{Type: SQS, Properties: {{Queue: !GetAtt Other.Arn}}}}
"""
    )
    assert edge(g, "A->Q").confidence == "medium"
    assert "self-loop" in edge(g, "A->Q").reason
    assert hint(g, "A->Other").confidence == "low"


def test_inline_code_vetoes_only_the_weaker_rules() -> None:
    g = graph(
        f"""
Resources:{QUEUES}
  Role:
    Type: AWS::IAM::Role
    Properties:
      ManagedPolicyArns: [arn:aws:iam::aws:policy/AmazonSQSFullAccess]
      Policies:
        - PolicyName: p
          PolicyDocument:
            Statement: [{{Effect: Allow, Action: sqs:SendMessage, Resource: !GetAtt Q.Arn}}]
  F:
    Type: AWS::Lambda::Function
    Properties:
      Role: !GetAtt Role.Arn
      Code: {{ZipFile: "exports.handler = async () => 1"}}
      Environment: {{Variables: {{A: !Ref Q, B: !Ref Other}}}}
"""
    )
    assert names(g, "produces") == {"F->Q"}  # scoped: kept whatever the code says
    assert hint_names(g) == {"F->Other"}


# -- produces through SNS and EventBridge -------------------------------------------------------

SNS = """
Resources:
  Q: {Type: AWS::SQS::Queue}
  R: {Type: AWS::SQS::Queue}
  T:
    Type: AWS::SNS::Topic
    Properties:
      Subscription:
        - {Protocol: sqs, Endpoint: !GetAtt Q.Arn}
        - {Protocol: email, Endpoint: someone@example.com}
  Sub:
    Type: AWS::SNS::Subscription
    Properties:
      TopicArn: !Ref T
      Protocol: sqs
      Endpoint: !GetAtt R.Arn
      FilterPolicy: {kind: [r]}
  QPolicy:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues: [!Ref Q]
      PolicyDocument:
        Statement:
          - Effect: Allow
            Principal: {Service: sns.amazonaws.com}
            Action: sqs:SendMessage
            Resource: !GetAtt Q.Arn
            Condition: {ArnEquals: {aws:SourceArn: !Ref T}}
  P:
    Type: AWS::Serverless::Function
    Properties:
      Policies: [%s]
"""


def test_publish_to_a_topic_collapses_to_its_queues() -> None:
    g = graph(SNS % "{SNSPublishMessagePolicy: {TopicName: !GetAtt T.TopicName}}")
    assert names(g, "produces") == {"P->Q", "P->R"}
    q = edge(g, "P->Q")
    assert (q.confidence, q.via) == ("high", (("P", "T", "Q"),))
    assert q.evidence == ("policy/SNSPublishMessagePolicy", "sns-subscription")
    r = edge(g, "P->R")
    assert r.confidence == "medium"
    assert "FilterPolicy" in r.reason
    assert names(g, "non_lambda_producers") == {"T->Q", "T->R"}
    assert edge(g, "T->Q").evidence == ("sns-subscription", "queue-policy")
    assert edge(g, "T->R").evidence == ("sns-subscription",)
    assert graph_to_dict(g)["produces_via"] == ["P->T->Q", "P->T->R"]


def test_unscoped_publish_with_a_single_topic_is_only_a_hint() -> None:
    g = graph(SNS % "{Statement: [{Effect: Allow, Action: sns:Publish, Resource: '*'}]}")
    assert not g.produces
    assert hint_names(g) == {"P->Q", "P->R"}
    assert hint(g, "P->Q").via == (("P", "T", "Q"),)


BUS = """
Resources:
  Q: {Type: AWS::SQS::Queue}
  Bus: {Type: AWS::Events::EventBus, Properties: {Name: orders}}
  ToQueue:
    Type: AWS::Events::Rule
    Properties:
      EventBusName: !Ref Bus
      EventPattern: {source: [app]}
      Targets: [{Arn: !GetAtt Q.Arn, Id: q}]
%s
  P:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - EventBridgePutEventsPolicy: {EventBusName: !GetAtt Bus.Name}
      Environment: {Variables: {BUS: !GetAtt Bus.Name}}
"""
SECOND_RULE = """
  ToElsewhere:
    Type: AWS::Events::Rule
    Properties:
      EventBusName: orders
      EventPattern: {source: [other]}
      Targets: [{Arn: arn:aws:sns:eu-west-2:111122223333:t, Id: t}]
"""


def test_put_events_on_a_bus_with_one_rule_is_a_medium_edge() -> None:
    g = graph(BUS % "")
    e = edge(g, "P->Q")
    assert e.confidence == "medium"
    assert e.via == (("P", "Bus", "ToQueue", "Q"),)
    assert e.evidence == ("policy/EventBridgePutEventsPolicy", "env/BUS", "eventbridge-rule")
    assert names(g, "non_lambda_producers") == {"ToQueue->Q"}


def test_put_events_on_a_bus_with_several_rules_is_a_hint() -> None:
    g = graph(BUS % SECOND_RULE)
    assert not g.produces
    assert "2 rules" in hint(g, "P->Q").reason


# -- non-Lambda producers -------------------------------------------------------------------------


def test_state_machine_send_permission_is_a_non_lambda_producer() -> None:
    g = graph(
        f"""
Resources:{QUEUES}
  SM:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: sm.asl.json
      DefinitionSubstitutions:
        QueueUrl: !Ref Q
        SendAction: !Sub arn:${{AWS::Partition}}:states:::sqs:sendMessage
        OtherUrl: !Ref Other
      Policies:
        - SQSSendMessagePolicy: {{QueueName: !GetAtt Q.QueueName}}
"""
    )
    assert names(g, "non_lambda_producers") == {"SM->Q"}
    assert edge(g, "SM->Q").evidence == (
        "policy/SQSSendMessagePolicy",
        "sfn-substitution/QueueUrl",
        "sfn-substitution/SendAction",
    )
    assert not g.produces


def test_api_gateway_s3_and_scheduler_producers() -> None:
    g = graph(
        f"""
Resources:{QUEUES}
  ApiRole:
    Type: AWS::IAM::Role
    Properties:
      Policies:
        - PolicyName: p
          PolicyDocument:
            Statement: [{{Effect: Allow, Action: sqs:SendMessage, Resource: !GetAtt Q.Arn}}]
  Api:
    Type: AWS::Serverless::Api
    Properties:
      DefinitionBody:
        paths:
          /m:
            post:
              x-amazon-apigateway-integration:
                credentials: !GetAtt ApiRole.Arn
                type: aws
                uri: !Sub "arn:aws:apigateway:${{AWS::Region}}:sqs:path/\\
                  ${{AWS::AccountId}}/${{Q.QueueName}}"
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      NotificationConfiguration:
        QueueConfigurations: [{{Event: "s3:ObjectCreated:*", Queue: !GetAtt Other.Arn}}]
  Every:
    Type: AWS::Scheduler::Schedule
    Properties:
      Target: {{Arn: !GetAtt Q.Arn, RoleArn: !GetAtt ApiRole.Arn}}
"""
    )
    assert names(g, "non_lambda_producers") == {"Api->Q", "Bucket->Other", "Every->Q"}
    assert edge(g, "Api->Q").evidence == ("apigw-integration", "policy/inline")
    assert edge(g, "Bucket->Other").evidence == ("s3-notification",)


# -- other rules ----------------------------------------------------------------------------------


def test_conditions_and_globals() -> None:
    g = graph(
        """
Conditions:
  IsTest: !Equals [!Ref AWS::Region, eu-west-2]
Globals:
  Function:
    AutoPublishAlias: blue
    Environment: {Variables: {OUT: !Ref Q}}
Resources:
  Q: {Type: AWS::SQS::Queue}
  In: {Type: AWS::SQS::Queue, Condition: IsTest}
  F:
    Type: AWS::Serverless::Function
    Condition: IsTest
    Properties:
      Policies: [AmazonSQSFullAccess]
      Events: {E: {Type: SQS, Properties: {Queue: !GetAtt In.Arn}}}
"""
    )
    assert dict(g.conditional) == {"In": "IsTest", "F": "IsTest"}
    assert edge(g, "F->Q").evidence == ("policy/managed-AmazonSQSFullAccess", "env/OUT")
    assert edge(g, "F->Q").conditions == ("IsTest",)
    assert edge(g, "In->F").conditions == ("IsTest",)
    assert dict(g.aliases) == {"F": "blue"}


def test_if_branches_are_both_considered() -> None:
    g = graph(
        f"""
Conditions:
  C: !Equals [a, a]
Resources:{QUEUES}
  F:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - !If
          - C
          - SQSSendMessagePolicy: {{QueueName: !GetAtt Q.QueueName}}
          - !Ref AWS::NoValue
        - Statement:
            - Effect: Allow
              Action: sqs:SendMessage
              Resource: !If [C, !GetAtt Other.Arn, !Ref AWS::NoValue]
"""
    )
    assert names(g, "produces") == {"F->Q", "F->Other"}


def test_external_queues_from_parameters_and_imports() -> None:
    g = graph(
        """
Parameters:
  OutQueueName: {Type: String}
  OutQueueUrl: {Type: String}
  InQueueArn: {Type: String}
Resources:
  F:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - SQSSendMessagePolicy: {QueueName: !Ref OutQueueName}
        - Statement:
            - Effect: Allow
              Action: sqs:SendMessage
              Resource: !ImportValue shared-queue-arn
      Environment: {Variables: {URL: !Ref OutQueueUrl}}
      Events: {E: {Type: SQS, Properties: {Queue: !Ref InQueueArn}}}
"""
    )
    assert names(g, "produces") == {
        "F->param/OutQueueName+OutQueueUrl",
        "F->import/shared-queue-arn",
    }
    assert edge(g, "F->param/OutQueueName+OutQueueUrl").evidence == (
        "policy/SQSSendMessagePolicy",
        "env/URL",
    )
    assert names(g, "consumes") == {"param/InQueueArn->F"}
    assert g.external_queues == (
        "import/shared-queue-arn",
        "param/InQueueArn",
        "param/OutQueueName+OutQueueUrl",
    )


def test_graph_to_dict_is_json_serialisable_and_index_shaped() -> None:
    g = graph(SNS % "{SNSPublishMessagePolicy: {TopicName: !GetAtt T.TopicName}}")
    data = json.loads(json.dumps(graph_to_dict(g)))
    assert data["functions"] == ["P"]
    assert data["queues"] == ["Q", "R"]
    assert data["topics"] == ["T"]
    assert data["produces"] == ["P->Q", "P->R"]
    assert data["edges"][0] == {
        "kind": "produces",
        "source": "P",
        "target": "Q",
        "edge": "P->Q",
        "confidence": "high",
        "evidence": ["policy/SNSPublishMessagePolicy", "sns-subscription"],
        "via": ["P->T->Q"],
        "conditions": [],
        "reason": "",
    }
    assert data["unlinked"] == []


def test_notes_for_what_is_not_analyzed() -> None:
    g = graph(
        """
Transform: [AWS::Serverless-2016-10-31, MyMacro]
Resources:
  Nested: {Type: AWS::CloudFormation::Stack}
  Q:
    Type: AWS::SQS::Queue
    Properties:
      Fn::Transform: {Name: AWS::Include, Parameters: {Location: s3://b/k}}
"""
    )
    assert any("MyMacro" in n for n in g.notes)
    assert any("Nested" in n for n in g.notes)
    assert any("AWS::Include" in n for n in g.notes)


# -- robustness -----------------------------------------------------------------------------------

_TYPES = [
    "AWS::Serverless::Function",
    "AWS::Lambda::Function",
    "AWS::SQS::Queue",
    "AWS::SNS::Topic",
    "AWS::SNS::Subscription",
    "AWS::Events::Rule",
    "AWS::IAM::Role",
    "AWS::IAM::Policy",
    "AWS::Lambda::EventSourceMapping",
    "AWS::Serverless::Connector",
    "AWS::Serverless::StateMachine",
    "AWS::Serverless::Api",
    "AWS::SQS::QueuePolicy",
]
_KEYS = st.sampled_from(
    [
        "Ref",
        "Fn::GetAtt",
        "Fn::Sub",
        "Fn::If",
        "Fn::Join",
        "Properties",
        "Events",
        "Policies",
        "Statement",
        "Resource",
        "Action",
        "Effect",
        "Queue",
        "Role",
        "Roles",
        "Environment",
        "Variables",
        "RedrivePolicy",
        "deadLetterTargetArn",
        "Subscription",
        "Targets",
        "Arn",
        "Type",
        "SQS",
        "A",
        "Q",
    ]
)
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.sampled_from(["A", "Q", "*", "Allow", "SQS"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(
    resources=st.dictionaries(
        st.sampled_from(["A", "Q", "R", "F"]),
        st.fixed_dictionaries({"Type": st.sampled_from(_TYPES)}, optional={"Properties": _VALUES}),
        max_size=4,
    )
)
def test_discover_never_crashes_on_odd_shapes(resources: dict[str, Any]) -> None:
    g = discover({"Resources": resources})
    json.dumps(graph_to_dict(g))


def test_unscoped_send_plus_env_var_naming_an_external_queue() -> None:
    g = graph(
        """
Parameters:
  TargetQueueUrl: {Type: String}
Resources:
  F:
    Type: AWS::Serverless::Function
    Properties:
      Policies: [AmazonSQSFullAccess]
      Environment: {Variables: {OUT: !Ref TargetQueueUrl}}
"""
    )
    assert names(g, "produces") == {"F->param/TargetQueueUrl"}
    assert edge(g, "F->param/TargetQueueUrl").confidence == "medium"


def test_event_and_mapping_on_the_same_queue_make_one_edge_at_the_best_confidence() -> None:
    g = graph(
        """
Resources:
  Q: {Type: AWS::SQS::Queue}
  F:
    Type: AWS::Serverless::Function
    Properties:
      Events: {E: {Type: SQS, Properties: {Queue: !GetAtt Q.Arn}}}
  M:
    Type: AWS::Lambda::EventSourceMapping
    Properties: {EventSourceArn: !GetAtt Q.Arn, FunctionName: !Ref F, Enabled: false}
"""
    )
    e = edge(g, "Q->F")
    assert e.confidence == "high"
    assert e.evidence == ("event/SQS", "esm")
    assert e.reason == ""
