"""User and group names to ids, the one way the hook actions resolve them."""

from __future__ import annotations

import grp
import pwd
from collections.abc import Callable
from typing import Any

from agentkit.errors import HookFailed


def ids(owner: str | None, group: str | None, where: str) -> tuple[int, int]:
    """(uid, gid) for the names; -1 leaves that id as it is. A missing name fails the hook."""
    return (_id(pwd.getpwnam, "user", owner, where) if owner else -1,
            _id(grp.getgrnam, "group", group, where) if group else -1)


def _id(lookup: Callable[[str], Any], kind: str, name: str, where: str) -> int:
    try:
        return int(lookup(name)[2])  # pw_uid / gr_gid
    except KeyError:
        raise HookFailed(f"{where}: there is no {kind} {name!r} on this machine; create it in "
                         "the AMI or fix the config") from None
