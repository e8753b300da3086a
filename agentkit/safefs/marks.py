"""A mark on the directories an action made or moved aside, that nobody else can forge.

After a killed run, an action finds its temporary names again (NAME.agentkit-left, a
seeding copy...) and finishes or removes what it left there. In a tree another user can
write, that user can put a directory of root's at such a name (one it could only rename,
never read or delete), so a name proves nothing. The mark does: an extended attribute in
the `trusted.` namespace, which only root (CAP_SYS_ADMIN) may set; for an action run as
another user (`runas`), `user.`, which only that user and root may set. A file system
without extended attributes (some NFS exports) takes no mark: what the action left there is
then kept as a backup, never used or removed.
"""

from __future__ import annotations

import os

VALUE = b"agentkit"


def _name() -> str:
    return "trusted.agentkit" if os.geteuid() == 0 else "user.agentkit"


def mark(fd: int) -> bool:
    """Mark the open file or directory; False where the file system takes no mark."""
    try:
        os.setxattr(fd, _name(), VALUE)
    except OSError:
        return False
    return True


def marked(fd: int) -> bool:
    try:
        return os.getxattr(fd, _name()) == VALUE
    except OSError:
        return False

