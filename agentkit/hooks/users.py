"""User and group names to ids, the one way the hook actions resolve them."""

from __future__ import annotations

import grp
import pwd

from agentkit.errors import HookFailed


def ids(owner: str | None, group: str | None, where: str) -> tuple[int, int]:
    """(uid, gid) for the names; -1 leaves that id as it is. A missing name fails the hook."""
    uid = gid = -1
    try:
        if owner:
            uid = pwd.getpwnam(owner).pw_uid
    except KeyError:
        raise HookFailed(f"{where}: there is no user {owner!r} on this machine; create it in "
                         "the AMI or fix the config") from None
    try:
        if group:
            gid = grp.getgrnam(group).gr_gid
    except KeyError:
        raise HookFailed(f"{where}: there is no group {group!r} on this machine; create it in "
                         "the AMI or fix the config") from None
    return uid, gid
