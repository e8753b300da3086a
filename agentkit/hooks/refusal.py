"""What a hook action says when the tree it works on is not what it expected.

safefs raises `Tampered` (a link, another type, or another entry where a directory or file
was listed) and the action leaves that path alone. In a tree the application's user can
write that is how an attack looks, so the message says so plainly, and what to do.
"""

from __future__ import annotations

import os
import pwd

from agentkit.errors import HookFailed
from agentkit.safefs.dirfd import Tampered


def _owner_of_parent(path: str) -> str:
    try:
        st = os.lstat(os.path.dirname(path) or "/")
    except OSError:
        return "unknown"
    try:
        return f"{pwd.getpwuid(st.st_uid).pw_name} (uid {st.st_uid})"
    except KeyError:
        return f"uid {st.st_uid}"


def describe(exc: Tampered) -> str:
    """One sentence: what stood where, and that it was not followed."""
    return (f"{exc.path}: {exc.found} stands where {exc.expected} was expected; it was left "
            "alone and not followed")


def failed(what: str, exc: Tampered) -> HookFailed:
    """The action stops: nothing outside the tree was touched."""
    return HookFailed(
        f"{what}: {describe(exc)}. The directory holding it can be changed by "
        f"{_owner_of_parent(exc.path)}: if nobody there made it on purpose, someone may be "
        "tampering with this tree. Look at it (ls -la), remove what should not be there, "
        "and run the deployment again.")
