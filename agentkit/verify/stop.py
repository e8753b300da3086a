"""Where a deployment, as verify runs it, stops: one value the lifecycle carries from event to
event and returns, instead of flags set here and there.

- `failure`: the deployment fails in that event (the agent's error); later events are
  skipped, as the agent skips them.
- `halted`: a later hook event cannot run here as it would on an instance (why); it is
  reported "not run here".
- `undetermined`: why verify's prediction is incomplete (the report's reason, exit 4 when
  nothing failed).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from agentkit.verify.result import Failure


@dataclass(frozen=True)
class Stop:
    failure: Failure | None = None
    halted: str | None = None
    undetermined: str | None = None

    def failed(self, failure: Failure) -> Stop:
        return replace(self, failure=failure)

    def forgiven(self) -> Stop:
        """The failure ignored (ApplicationStop with ignoreApplicationStopFailures)."""
        return replace(self, failure=None)

    def halt(self, why: str, undetermined: str | None = None) -> Stop:
        """Later hook events are not run (`why`); the verdict is undetermined for the same
        reason unless another is given."""
        return replace(self, halted=why, undetermined=undetermined or why)

    def incomplete(self, why: str) -> Stop:
        """The verdict is undetermined, but later events still run."""
        return replace(self, undetermined=why)

    @property
    def verdict_undetermined(self) -> str | None:
        """The report's reason: none when the deployment fails anyway."""
        return self.undetermined if self.failure is None else None
