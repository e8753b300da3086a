"""The cases of a verify run: every script that failed or could not be judged, and a failure
of Install or of the download."""

from __future__ import annotations

from agentkit.agent.script_run import SUCCEEDED
from agentkit.diagnose.case import Case
from agentkit.diagnose.engine import Diagnosis, diagnose_all
from agentkit.verify.result import VerifyResult

_LOOKED_AT = ("failed", "failed (ignored)", "undetermined")


def cases(result: VerifyResult, network: bool = False, image: str = "") -> list[Case]:
    out = []
    for event in result.events:
        if event.status not in _LOOKED_AT:
            continue
        for run in event.scripts:
            if run.error_code == SUCCEEDED:
                continue
            out.append(Case(event.name, run.error_code, run.message,
                            tuple(line for _stream, line in run.output), run.location,
                            run.exit_code, event.revision, run.runas,
                            in_verify=not network, image=image))
    failure = result.failure
    if failure is not None and failure.script is None:  # Install, DownloadBundle
        out.append(Case(failure.event, failure.error_code, failure.message,
                        tuple(failure.log_tail.splitlines()), in_verify=not network,
                        image=image))
    return out


def diagnoses(result: VerifyResult, network: bool = False, image: str = "") -> list[Diagnosis]:
    """`image`: the instance's root file system (--image), where AK800 looks for the
    package of a command not found."""
    return diagnose_all(cases(result, network, image))
