"""What the agent copies through a bundle symlink to a directory outside the bundle.

installer.rb#generate_directory_copy asks File.directory? (which follows a link) and then
copies Dir.entries of the link's target: a Capistrano `shared/media -> /mnt/efs/media` in
the archive becomes a full copy of the share on every instance (aws-codedeploy-agent issue
#152). verify copies what this host holds there into its throw-away root, up to a cap, so the
tree shows the copy; past the cap the rest is counted and summed, not listed. On the instance
it is whatever the target holds there. With an image (verify --image) a link to an absolute
path points into the image: File.directory? and the copy ask the image's /mnt/efs/media, not
this machine's (instance_target).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field

from agentkit import fstree
from agentkit.hostview.view import MAX_LINKS, HostView

MAX_ENTRIES = 2000  # host entries copied into the tree, over every linked directory
MAX_BYTES = 256 << 20
MAX_COUNTED = 100_000  # host files counted past the cap, then "more than"


@dataclass
class Tally:
    link: str  # the bundle member (in the deployment archive)
    target: str  # where it points on this host
    files: int = 0  # copied into the tree
    bytes: int = 0
    over_files: int = 0  # past the cap: counted, not copied
    over_bytes: int = 0
    unreadable: bool = False  # this user may not list the target (the agent, root, may)
    unreadable_at: str = ""  # the first directory of it this user may not list
    counted_all: bool = True  # False: more files past the cap than MAX_COUNTED
    in_image: bool = False  # the target is the image's (verify --image), not this host's


@dataclass
class Budget:
    """The cap shared by every linked directory of one Install."""

    entries: int = field(default_factory=lambda: MAX_ENTRIES)
    bytes: int = field(default_factory=lambda: MAX_BYTES)
    tallies: dict[str, Tally] = field(default_factory=dict)

    def start(self, link: str, target: str, in_image: bool = False) -> Tally:
        return self.tallies.setdefault(link, Tally(link, target, in_image=in_image))

    def admit(self, tally: Tally, entry: os.DirEntry[str]) -> bool:
        """Whether `entry` (below a linked directory) is copied; if not, it is counted."""
        try:
            st = entry.stat()  # followed, as the agent's copy follows links
        except OSError:
            st = None
        is_dir = st is not None and stat.S_ISDIR(st.st_mode)
        size = 0 if st is None or is_dir else st.st_size
        if self.entries > 0 and size <= self.bytes:
            self.entries -= 1
            self.bytes -= size
            if not is_dir:
                tally.files += 1
                tally.bytes += size
            return True
        if is_dir:
            for _, below in fstree.walk_files(entry.path):
                if tally.over_files >= MAX_COUNTED:
                    tally.counted_all = False
                    break
                tally.over_files += 1
                tally.over_bytes += below.st_size if stat.S_ISREG(below.st_mode) else 0
        else:
            tally.over_files += 1
            tally.over_bytes += size
        return False


def describe(tally: Tally) -> str:
    """The AK510 message's account of what this host's copy holds."""
    if tally.unreadable:
        where = tally.unreadable_at or tally.target
        here = f"this user may not read {where}: the tree does not show it"
    else:
        whose = "the image's" if tally.in_image else "this host's"
        here = f"the tree shows {whose} copy: {tally.files} file(s), {_mb(tally.bytes)}"
        if tally.over_files:
            more = "" if tally.counted_all else "at least "
            here += (f", and {more}{tally.over_files} more file(s), {more}"
                     f"{_mb(tally.over_bytes)}, past verify's cap (counted, not listed)")
    return (f"the agent copies everything under {tally.target} (a linked directory outside "
            f"the bundle) onto the instance, whatever it holds there; {here}")


NOWHERE = ""  # instance_target: the link dangles on the instance


def instance_target(archive: str, source: str, view: HostView) -> str | None:
    """Where `source` (a path of the unpacked archive) leads on the instance when a bundle
    link on its way points at an absolute path and the instance is an image: that path with
    the image's links followed (NOWHERE: it dangles there). None where this machine's own
    answer stands: no image, no such link, or a relative link out of the bundle."""
    archive = os.path.normpath(archive)
    source = os.path.normpath(source)
    if view.host == "/" or not source.startswith(archive + "/"):
        return None
    todo = source[len(archive) + 1:].split("/")
    here, hops = archive, 0
    while todo:
        here = os.path.join(here, todo.pop(0))
        while os.path.islink(here):
            hops += 1
            if hops > MAX_LINKS:  # a loop of the bundle's own links: this machine's ELOOP
                return None
            target = os.readlink(here)
            if target.startswith("/"):
                return view.resolve(os.path.join(target, *todo)) or NOWHERE
            here = os.path.normpath(os.path.join(os.path.dirname(here), target))
            if here != archive and not here.startswith(archive + "/"):
                return None
    return None


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"
