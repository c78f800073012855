"""The template loader: CloudFormation short-form tags, JSON templates, and input errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from orchestrator.discovery import load_template
from orchestrator.discovery.loader import parse_template
from orchestrator.errors import InputError


def value_of(yaml_value: str) -> Any:
    """Parse ``V: <yaml_value>`` inside a minimal template and return V."""
    text = f"Resources: {{}}\nV: {yaml_value}\n"
    return parse_template(text)["V"]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("!Ref Queue", {"Ref": "Queue"}),
        ("!Ref AWS::Region", {"Ref": "AWS::Region"}),
        ("!GetAtt Queue.Arn", {"Fn::GetAtt": ["Queue", "Arn"]}),
        ("!GetAtt Db.Endpoint.Address", {"Fn::GetAtt": ["Db", "Endpoint.Address"]}),
        ("!GetAtt [Queue, Arn]", {"Fn::GetAtt": ["Queue", "Arn"]}),
        ("!GetAtt [\"FunctionRole\", 'Arn']", {"Fn::GetAtt": ["FunctionRole", "Arn"]}),
        ("!Sub 'arn:${AWS::Partition}:sqs'", {"Fn::Sub": "arn:${AWS::Partition}:sqs"}),
        (
            "!Sub ['${A}-x', {A: !Ref P}]",
            {"Fn::Sub": ["${A}-x", {"A": {"Ref": "P"}}]},
        ),
        ("!Join ['', [a, !Ref B]]", {"Fn::Join": ["", ["a", {"Ref": "B"}]]}),
        ("!If [C, a, !Ref AWS::NoValue]", {"Fn::If": ["C", "a", {"Ref": "AWS::NoValue"}]}),
        ("!Select [0, !GetAZs '']", {"Fn::Select": [0, {"Fn::GetAZs": ""}]}),
        ("!Split [',', 'a,b']", {"Fn::Split": [",", "a,b"]}),
        ("!FindInMap [M, K, V]", {"Fn::FindInMap": ["M", "K", "V"]}),
        ("!ImportValue shared-queue-arn", {"Fn::ImportValue": "shared-queue-arn"}),
        ("!Equals [!Ref Env, test]", {"Fn::Equals": [{"Ref": "Env"}, "test"]}),
        ("!Not [!Condition IsProd]", {"Fn::Not": [{"Condition": "IsProd"}]}),
        (
            "!And [!Condition A, !Condition B]",
            {"Fn::And": [{"Condition": "A"}, {"Condition": "B"}]},
        ),
        ("!Or [!Condition A, !Condition B]", {"Fn::Or": [{"Condition": "A"}, {"Condition": "B"}]}),
        ("!Base64 text", {"Fn::Base64": "text"}),
        ("!Cidr [10.0.0.0/16, 4, 8]", {"Fn::Cidr": ["10.0.0.0/16", 4, 8]}),
        (
            "!Transform {Name: AWS::Include, Parameters: {Location: s3://b/k}}",
            {"Fn::Transform": {"Name": "AWS::Include", "Parameters": {"Location": "s3://b/k"}}},
        ),
    ],
)
def test_short_form_tags_become_long_form(source: str, expected: Any) -> None:
    assert value_of(source) == expected


def test_block_style_tags_and_nesting() -> None:
    text = """
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - SQSSendMessagePolicy:
            QueueName:
              !GetAtt Queue.QueueName
      Environment:
        Variables:
          URL: !Sub
            - https://${Host}/x
            - Host: !GetAtt [Api, Endpoint]
"""
    props = parse_template(text)["Resources"]["Fn"]["Properties"]
    assert props["Policies"][0]["SQSSendMessagePolicy"]["QueueName"] == {
        "Fn::GetAtt": ["Queue", "QueueName"]
    }
    assert props["Environment"]["Variables"]["URL"] == {
        "Fn::Sub": ["https://${Host}/x", {"Host": {"Fn::GetAtt": ["Api", "Endpoint"]}}]
    }


def test_dates_stay_text_and_comments_are_ignored() -> None:
    text = """
AWSTemplateFormatVersion: 2010-09-09
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: 2012-10-17
        # Statement: []
"""
    data = parse_template(text)
    assert data["AWSTemplateFormatVersion"] == "2010-09-09"
    doc = data["Resources"]["Role"]["Properties"]["AssumeRolePolicyDocument"]
    assert doc == {"Version": "2012-10-17"}


def test_json_template_in_long_form(tmp_path: Path) -> None:
    template = {
        "Resources": {
            "Q": {"Type": "AWS::SQS::Queue"},
            "F": {
                "Type": "AWS::Lambda::Function",
                "Properties": {"Environment": {"Variables": {"U": {"Ref": "Q"}}}},
            },
        }
    }
    path = tmp_path / "template.yaml"  # a JSON file with a .yaml name, as CDK snapshots are
    path.write_text(json.dumps(template, indent=1), encoding="utf-8")
    assert load_template(path) == template


def test_yaml_short_form_equals_json_long_form() -> None:
    short = """
Resources:
  Q: {Type: AWS::SQS::Queue}
  F:
    Type: AWS::Serverless::Function
    Properties:
      Events: {E: {Type: SQS, Properties: {Queue: !GetAtt Q.Arn}}}
"""
    long = {
        "Resources": {
            "Q": {"Type": "AWS::SQS::Queue"},
            "F": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "Events": {
                        "E": {"Type": "SQS", "Properties": {"Queue": {"Fn::GetAtt": ["Q", "Arn"]}}}
                    }
                },
            },
        }
    }
    assert parse_template(short) == long
    assert parse_template(json.dumps(long)) == long


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_bytes("\ufeffResources: {Q: {Type: AWS::SQS::Queue}}\n".encode())
    assert load_template(path)["Resources"] == {"Q": {"Type": "AWS::SQS::Queue"}}


def test_unknown_tag_is_an_input_error() -> None:
    with pytest.raises(InputError, match=r"unknown tag !Foo"):
        parse_template("Resources: {}\nV: !Foo bar\n", source="t.yaml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Resources: [\n", "not valid YAML or JSON at line"),
        ("", "not empty"),
        ("- a\n- b\n", "not a list"),
        ("AWSTemplateFormatVersion: '2010-09-09'\n", "no `Resources` mapping"),
        ("Resources: [a]\n", "no `Resources` mapping"),
    ],
)
def test_not_a_template_is_an_input_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_template(path)
    assert info.value.issues[0].path == str(path)
    assert message in info.value.issues[0].message


def test_missing_file_is_an_input_error_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(InputError, match="does not exist") as info:
        load_template(path)
    assert info.value.issues[0].path == str(path)
    assert info.value.exit_code == 2


def test_directory_and_binary_files_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="directory"):
        load_template(tmp_path)
    binary = tmp_path / "t.yaml"
    binary.write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(InputError, match="cannot read"):
        load_template(binary)
