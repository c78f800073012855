"""``AliasRouter`` on Lambda aliases: read where an alias points, and move it.

A weighted alias has a primary ``FunctionVersion`` plus ``RoutingConfig.AdditionalVersionWeights``
(version -> fraction 0..1); the primary gets the rest. Moves pass the ``RevisionId`` the caller
read, so AWS refuses (``PreconditionFailedException`` -> ``AliasDriftError``) when someone else
moved the alias in between. Emulators may not check it (moto 5.2 does not), so callers also
compare the state they read with the state they expect.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from orchestrator.aws.errors import aws_call
from orchestrator.model.live import AliasState

if TYPE_CHECKING:
    from collections.abc import Mapping

    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_lambda.type_defs import UpdateAliasRequestTypeDef


class LambdaAliasReader:
    """Reads Lambda aliases and versions (the read-only half, for steps that never move one)."""

    AWS_ACTIONS: ClassVar[tuple[str, ...]] = (
        "lambda:GetAlias",
        "lambda:GetFunctionConfiguration",
    )

    def __init__(self, lambda_client: LambdaClient) -> None:
        self._client = lambda_client

    def read(self, function: str, alias: str) -> AliasState:
        """Current routing of ``function:alias``; ``ResourceMissingError`` if either is absent."""
        with aws_call("lambda:GetAlias", f"{function}:{alias}"):
            response = self._client.get_alias(FunctionName=function, Name=alias)
        return _state(function, alias, response)

    def version_exists(self, function: str, version: str) -> bool:
        """Whether ``version`` is a published version of ``function``.

        ``$LATEST`` and alias names are not published versions, so they answer False (an alias
        qualifier resolves to its version, hence the check on the returned ``Version``). A missing
        function answers False too: it has no such version.
        """
        if not version.isdigit():
            return False
        with aws_call("lambda:GetFunctionConfiguration", f"{function}:{version}"):
            try:
                config = self._client.get_function_configuration(
                    FunctionName=function, Qualifier=version
                )
            except self._client.exceptions.ResourceNotFoundException:
                return False
        return config.get("Version") == version


class LambdaAliasRouter(LambdaAliasReader):
    """Reads and moves Lambda aliases; functions may be given by name or ARN."""

    AWS_ACTIONS: ClassVar[tuple[str, ...]] = (
        "lambda:GetAlias",
        "lambda:UpdateAlias",
        "lambda:GetFunctionConfiguration",
    )

    def set_weights(
        self, current: AliasState, version: str, extra: Mapping[str, float] | None
    ) -> AliasState:
        """Point the alias at ``version`` plus ``extra`` weights; returns the state AWS reports.

        ``current.revision_id`` guards the move; a state without one (built rather than read)
        moves the alias unconditionally.
        """
        weights = {str(v): float(w) for v, w in (extra or {}).items()}
        target = f"{current.function}:{current.alias}"
        request: UpdateAliasRequestTypeDef = {
            "FunctionName": current.function,
            "Name": current.alias,
            "FunctionVersion": version,
            "RoutingConfig": {"AdditionalVersionWeights": weights},
        }
        if current.revision_id:
            request["RevisionId"] = current.revision_id
        with aws_call("lambda:UpdateAlias", target):
            response = self._client.update_alias(**request)
        return _state(current.function, current.alias, response)


def _state(function: str, alias: str, response: Mapping[str, Any]) -> AliasState:
    routing = response.get("RoutingConfig") or {}
    extra = routing.get("AdditionalVersionWeights") or {}
    return AliasState(
        function=function,
        alias=alias,
        version=str(response["FunctionVersion"]),
        extra={str(v): float(w) for v, w in extra.items()},
        revision_id=str(response.get("RevisionId", "")),
    )
