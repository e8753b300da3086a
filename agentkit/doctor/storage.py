"""What the hooks need on this instance: free disk under the agent's deployment root, the
shared mounts the bundle's agentkit.yml requires (mounted, of the right type, writable), and
the state of its health-check file (present: the load balancer sends traffic)."""

from __future__ import annotations

import os

from agentkit.doctor.agent import under
from agentkit.doctor.result import Check, fail, ok, warn
from agentkit.hooks import mounts
from agentkit.hooks.config import Config

LOW, VERY_LOW = 2 << 30, 512 << 20


def disk(root: str, path: str) -> Check:
    probe = under(root, path)
    while not os.path.exists(probe) and probe != "/":
        probe = os.path.dirname(probe)
    st = os.statvfs(probe)
    free = st.f_bavail * st.f_frsize
    text = f"{free / 2**30:.1f} GiB free for {path}"
    if free < VERY_LOW:
        return fail("disk", text + ": the next DownloadBundle and Install may not fit",
                    "free space, or lower the agent's :max_revisions:")
    if free < LOW:
        return warn("disk", text, "free space before a large revision")
    return ok("disk", text)


def shared(root: str, cfg: Config) -> list[Check]:
    if cfg.shared is None:
        return []
    path = under(root, cfg.shared.root)
    mount = mounts.mount_of(path)
    need = cfg.shared.require_mount
    where = f"{cfg.shared.root} on {mount.mountpoint} ({mount.fstype})"
    if not mounts.satisfies(mount, need):
        return [fail("shared mount", f"{where}, but {cfg.path} requires {need}: link-shared "
                     "refuses to create anything", "mount the share (fstab with _netdev; "
                     "packaging/cloud-init mounts EFS before the agent starts)")]
    if not os.path.isdir(path):
        return [warn("shared mount", f"{where}: {cfg.shared.root} does not exist yet",
                     "link-shared creates it on the first deployment")]
    if not os.access(path, os.W_OK):
        return [fail("shared mount", f"{where}: not writable by this user", "check the "
                     "export's options and the access point's POSIX user")]
    return [ok("shared mount", f"{where}, writable")]


def health(root: str, cfg: Config) -> list[Check]:
    if cfg.health is None:
        return []
    if os.path.exists(under(root, cfg.health.file)):
        return [ok("health file", f"{cfg.health.file} is there: the load balancer sees this "
                   "instance healthy")]
    return [warn("health file", f"{cfg.health.file} is missing: the load balancer takes "
                 "this instance out of service", "it is written by `agentkit hook health up`"
                 " at the end of a good deployment; redeploy, or run it by hand")]
