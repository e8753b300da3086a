"""What this machine's boxes can be, known before a test runs: a test that needs a box (or a
box with runas users) is skipped up front, with the reason, and otherwise asserts its result;
it never skips because verify answered "undetermined"."""

from __future__ import annotations

import pytest

from agentkit.box import ids
from agentkit.verify import hookbox

NO_BOX = hookbox.unavailable()
ONE_UID = ids.choose().kind == "single"  # a plain user without a subordinate id range

needs_box = pytest.mark.skipif(NO_BOX is not None,
                               reason=f"this machine makes no box for hooks: {NO_BOX}")
needs_runas = pytest.mark.skipif(
    NO_BOX is not None or ONE_UID,
    reason=f"runas users need a box with a subordinate id range: {NO_BOX or 'this user has none'}")


def determined(out: dict[str, object]) -> None:
    """verify ran every hook here (the test's machine can: see needs_box)."""
    assert out["result"] != "undetermined", out["undetermined"]
