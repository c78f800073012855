"""Pure planning logic (DESIGN §4): no boto3, no I/O."""

from orchestrator.planning.compatibility import EdgeKind, accepts, classify
from orchestrator.planning.planner import edges, plan_release

__all__ = ["EdgeKind", "accepts", "classify", "edges", "plan_release"]
