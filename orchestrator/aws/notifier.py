"""``Notifier`` on SNS: tells on-call what happened to a release.

SNS refuses a Publish whose subject is too long or contains characters it does not accept, or
whose message exceeds 256 KB; a notification must never fail for that reason (it is sent exactly
when things already went wrong), so this adapter fits both into SNS's limits instead.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, ClassVar

from orchestrator.aws.errors import aws_call

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient

SUBJECT_MAX_CHARS = 99
"""SNS: "must be less than 100 characters long"."""

MESSAGE_MAX_BYTES = 256 * 1024
"""SNS's limit on a message, in UTF-8 bytes."""

DEFAULT_SUBJECT = "Rollout notification"
_ELLIPSIS = "..."
_NOT_PRINTABLE_ASCII = re.compile(r"[^\x20-\x7e]+")


def fit_subject(subject: str) -> str:
    """``subject`` as SNS accepts it: printable ASCII on one line, under 100 characters.

    Line breaks, control and non-ASCII characters become spaces (runs collapse to one); SNS also
    wants the subject to start with a letter, number or punctuation, so leading spaces go.
    """
    text = " ".join(_NOT_PRINTABLE_ASCII.sub(" ", subject).split())
    if not text:
        return DEFAULT_SUBJECT
    if len(text) > SUBJECT_MAX_CHARS:
        text = text[: SUBJECT_MAX_CHARS - len(_ELLIPSIS)].rstrip() + _ELLIPSIS
    return text


def fit_message(message: str) -> str:
    """``message`` cut to SNS's 256 KB, ending in a marker that says how much was dropped."""
    if not message:
        return "(no details)"
    data = message.encode("utf-8")
    if len(data) <= MESSAGE_MAX_BYTES:
        return message
    marker = (
        f"\n\n[truncated by the rollout orchestrator: the message had {len(data)} bytes, "
        f"SNS allows {MESSAGE_MAX_BYTES}]"
    )
    room = MESSAGE_MAX_BYTES - len(marker.encode("utf-8"))
    # errors="ignore" drops a multi-byte character cut in half at the boundary.
    return data[:room].decode("utf-8", errors="ignore") + marker


class SnsNotifier:
    """Publishes notifications to one SNS topic."""

    AWS_ACTIONS: ClassVar[tuple[str, ...]] = ("sns:Publish",)

    def __init__(self, sns_client: SNSClient, topic_arn: str) -> None:
        self._client = sns_client
        self._topic_arn = topic_arn

    def publish(self, subject: str, message: str) -> None:
        """Publish ``message`` under ``subject``, both fitted into SNS's limits."""
        with aws_call("sns:Publish", self._topic_arn):
            self._client.publish(
                TopicArn=self._topic_arn, Subject=fit_subject(subject), Message=fit_message(message)
            )
