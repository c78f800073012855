"""The project's one error hierarchy.

Class names are a stable API: the state machine's ``Retry``/``Catch`` blocks name them in
``ErrorEquals`` (a Lambda function error's type is the raised exception's class name), and the CLI
maps them to exit codes. Leaves end in ``Error`` and carry their context as attributes.

::

    RolloutError                       base of everything this package raises on purpose
    ├── InputError                     the user's input is wrong: exit code 2, nothing changed
    │   ├── ManifestError              the manifest does not parse or validate (carries every issue)
    │   ├── InfeasibleReleaseError     no order of alias moves makes the release safe
    │   ├── ScenarioError              a dry-run scenario file is invalid
    │   └── HotfixRejectedError        a hotfix version is not compatible with the live state
    ├── EnvironmentProblemError        AWS or the engine unreachable or refusing: exit code 3
    │   └── ResourceMissingError       a function, version, alias or queue is absent
    ├── TransientError                 worth a retry (throttling, busy service); ASL Retry names it
    ├── ReleaseStateError              the world is not as the release expects: stop, roll forward
    │   ├── AliasDriftError            an alias is not where this release left it
    │   ├── LockConflictError          another release holds a lease on a component
    │   ├── LeaseLostError             this release no longer holds a lease it needs (fail closed)
    │   ├── GateFailedError            a verification gate failed: the version is broken
    │   ├── NotEnoughTrafficError      a gate stayed INCONCLUSIVE: hold the release, no hotfix
    │   ├── MetricsUnreadableError     a gate stayed ERROR (CloudWatch unreadable): hold, no hotfix
    │   ├── ApprovalTimeoutError       a manual approval step was not approved in time: hold
    │   ├── DrainTimeoutError          a queue still holds old-schema messages after its timeout
    │   ├── ReleaseFrozenError         a forward move was tried while the release is frozen
    │   ├── ReleaseAbortedError        an operator aborted the release; no further moves
    │   ├── ShiftCrashedError          a child execution ended without reporting; the release halts
    │   └── UnsafeRollbackError        moving an alias back was asked where it is not proven safe
    │       └── BackwardsMoveError     a move would give weight to a version a promotion superseded
    └── ReleaseNotFoundError           no execution or record exists for the release id
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Issue:
    """One problem in a user's input: where it is (dotted path) and what to do about it."""

    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


class RolloutError(Exception):
    """Base class of every error this package raises on purpose."""

    exit_code: int = 1


class InputError(RolloutError):
    """The user's input is wrong. Nothing was changed anywhere."""

    exit_code = 2

    def __init__(self, issues: Sequence[Issue] | str, *, path: str = "") -> None:
        if isinstance(issues, str):
            issues = [Issue(path, issues)]
        self.issues: list[Issue] = list(issues)
        super().__init__(
            "; ".join(f"{i.path}: {i.message}" if i.path else i.message for i in self.issues)
        )


class ManifestError(InputError):
    """The release manifest does not parse or does not validate."""


class InfeasibleReleaseError(InputError):
    """No order of alias moves keeps every consumer able to read what it receives."""


class ScenarioError(InputError):
    """A dry-run scenario file is invalid."""


class HotfixRejectedError(InputError):
    """A hotfix version is not compatible with the live mixed state."""

    def __init__(
        self, issues: Sequence[Issue] | str, *, component: str = "", version: str = ""
    ) -> None:
        self.component = component
        self.version = version
        super().__init__(issues)


class EnvironmentProblemError(RolloutError):
    """AWS or the engine cannot be reached, or refuses a call for a reason that is not transient."""

    exit_code = 3


class ResourceMissingError(EnvironmentProblemError):
    """A function, version, alias or queue named in the manifest does not exist."""

    def __init__(self, message: str, *, resource: str = "") -> None:
        self.resource = resource
        super().__init__(message)


class TransientError(RolloutError):
    """A failure worth retrying: throttling or a briefly unavailable service."""


class ReleaseStateError(RolloutError):
    """The world is not in the state the release expects; the workflow stops and rolls forward."""

    def __init__(self, message: str, *, component: str = "", version: str = "") -> None:
        self.component = component
        self.version = version
        super().__init__(message)


class AliasDriftError(ReleaseStateError):
    """An alias is not in the state this release last left it: someone else moved it."""


class LockConflictError(ReleaseStateError):
    """Another release holds the lease on a component."""


class LeaseLostError(LockConflictError):
    """This release no longer holds a lease it needs: it stops instead of moving an alias."""


class GateFailedError(ReleaseStateError):
    """A verification gate failed: the version (or a downstream consumer) is broken."""


class NotEnoughTrafficError(ReleaseStateError):
    """A gate stayed INCONCLUSIVE past its limit: too little traffic to judge. Hold, never FAIL."""


class MetricsUnreadableError(ReleaseStateError):
    """A gate stayed ERROR past its limit: CloudWatch could not be read. An environment problem."""


class ApprovalTimeoutError(ReleaseStateError):
    """A manual approval step (``strategy.approve_before`` or a ``{pause: true}`` step) was not
    approved within its timeout. Nothing is known to be broken: the release holds, never rolls
    back, and ``rollout resume`` continues it."""


class ReleaseFrozenError(ReleaseStateError):
    """A forward alias move was attempted while the release is frozen for roll-forward."""


class ShiftCrashedError(ReleaseStateError):
    """A component's child execution ended without reporting (an error no Catch takes, or its
    ShiftFailed step failed): the parent halts instead of waiting for ever."""


class ReleaseAbortedError(ReleaseStateError):
    """An operator asked to abort the release; no further alias moves."""


class DrainTimeoutError(ReleaseStateError):
    """A queue still holds messages of the old schema after its drain timeout."""


class UnsafeRollbackError(ReleaseStateError):
    """Moving an alias back was requested where the planning rules do not prove it safe."""


class BackwardsMoveError(UnsafeRollbackError):
    """A move would give weight to a version that an earlier promotion of this alias superseded."""


class ReleaseNotFoundError(RolloutError):
    """No execution or record exists for the release id."""

    exit_code = 2
