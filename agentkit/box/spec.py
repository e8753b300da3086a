"""What a box is made of, decided outside it: a plain value sent to the box as JSON.

Every path here is absolute. `lowers` are the host's directories as the box process sees them
when it builds its root (for real root: idmapped copies the stage made); `shows` is where each
appears in the box.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from agentkit.box.ids import IdMap

DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
# Host files a hook must not read through the box, whoever runs verify (credentials in the
# caller's and root's homes); the box shows an empty directory or file in their place.
SECRETS = (".aws", ".ssh", ".gnupg", ".docker", ".kube", ".netrc", ".git-credentials",
           ".pypirc", ".config/gcloud", ".azure")
# /proc files that speak for the whole machine (what bubblewrap, Docker and Podman mask)
PROC_MASKED = ("kcore", "kmsg", "keys", "key-users", "sysrq-trigger", "timer_list", "sched_debug",
               "latency_stats", "timer_stats", "acpi", "scsi")
PROC_READ_ONLY = ("sys", "bus", "fs", "irq")


@dataclass(frozen=True)
class Spec:
    work: str  # a directory of verify's where the box mounts its own file systems
    idmap: IdMap
    shown: tuple[tuple[str, str], ...]  # (box path, host path) of each host tree shown
    # (box path, host path) of verify's directories hooks write into (the agent's deployment
    # root): an overlay whose writes count against max_disk (rootfs._writable)
    binds: tuple[tuple[str, str], ...]
    masks: tuple[str, ...]  # box paths that show an empty directory instead
    homes: tuple[str, ...]  # home directories whose SECRETS are hidden
    max_disk: int  # bytes the hooks may write in the box
    max_procs: int  # processes the box's users may have at once
    network: bool  # share this machine's network (else: a loopback of its own)
    mimic: tuple[str, ...] = ()  # trees copied as the box's own (unprivileged: see mimic.py)
    # directories copied as the box's own without what is below them: the nearest existing
    # parent of a files destination that does not exist yet, which Install writes into
    mimic_dirs: tuple[str, ...] = ()
    # (box path, content, mode) to add; content None: a directory (a shown tree's mount point)
    extra_files: tuple[tuple[str, str | None, int], ...] = ()
    image: str = ""  # the instance's root file system shown instead of this machine's /
    top_links: tuple[tuple[str, str], ...] = ()  # (name, target): the lower root's /bin -> ...
    notes: tuple[str, ...] = field(default_factory=tuple)
    # (path, mode, host uid, host gid) of this machine's private directories: each shows
    # empty, with its owner and mode (hookbox.private_dirs)
    hidden: tuple[tuple[str, int, int, int], ...] = ()
    max_memory: int = 2 << 30  # bytes of memory each process may use (RLIMIT_DATA)
    handler: str = ""  # "module:function" that runs the jobs of a `run` (wire.py)
    # box paths of shown trees copied into the box's layer instead of mounted there (a small
    # `files` destination in a hidden TMPDIR: a hook's rm -rf of a mount point is EBUSY)
    copied: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Spec:
        idmap = raw["idmap"]
        return cls(**{**raw, "idmap": IdMap(
            idmap["kind"], tuple(tuple(x) for x in idmap["uids"]),
            tuple(tuple(x) for x in idmap["gids"]), idmap["note"]),
            **{k: tuple(tuple(x) if isinstance(x, list) else x for x in raw[k])
               for k in ("shown", "binds", "masks", "homes", "mimic", "mimic_dirs", "extra_files",
                         "notes", "top_links", "hidden", "copied")}})
