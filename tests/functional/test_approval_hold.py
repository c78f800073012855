"""An approval that does not come holds the release (issue 13 item 3, the part that is in place).

``ApprovalTimeoutError`` (a manual approval step not approved within its timeout) is classified by
Freeze as a ``hold``, like a gate that could not judge: nothing is pulled back, no hotfix is asked
for, and ``rollout resume`` continues. The child definition's approval wait is not built yet.
"""

from __future__ import annotations

import json

from orchestrator.errors import ApprovalTimeoutError, ReleaseStateError
from orchestrator.model.steps import ReleaseRef
from orchestrator.steps.acquire_locks import acquire_locks
from orchestrator.steps.freeze import FreezeInput, freeze
from orchestrator.testing import Fakes
from tests.factories import manifest_data

RELEASE = "approval-1"


def test_an_approval_timeout_is_a_hold_not_a_failure() -> None:
    assert issubclass(ApprovalTimeoutError, ReleaseStateError)
    fakes = Fakes()
    fakes.plan_release(
        manifest_data(
            {
                "enrich": {
                    "from": {"version": "17", "reads": {"orders": [1]}},
                    "to": {"version": "18", "reads": {"orders": [1, 2]}},
                }
            },
            release=RELEASE,
        )
    )
    acquire_locks(ReleaseRef(release=RELEASE), fakes.ports)
    cause = json.dumps({"errorType": "ApprovalTimeoutError", "errorMessage": "not approved"})
    frozen = freeze(
        FreezeInput(release=RELEASE, failure={"Error": "ApprovalTimeoutError", "Cause": cause}),
        fakes.ports,
    )
    assert (frozen.kind, frozen.aborted, frozen.message) == ("hold", False, "not approved")
