"""agentkit.box.rootfs: a tree an overlay cannot take in is bound read-only, its submounts
too, keeping the flags a user namespace may not clear, or not shown at all. Run in a child
with a user and mount namespace of its own (as the box is), so this machine's mounts are
never touched."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from agentkit import mountinfo
from agentkit.box import rootfs
from agentkit.box import syscalls as sc


def _in_namespaces(test: str, tmp: Path) -> list[str]:
    """Run `_CHECKS[test]` in a forked child inside new user and mount namespaces; the lines
    it reports."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(r)
        try:
            uid, gid = os.getuid(), os.getgid()
            sc.unshare(sc.CLONE_NEWUSER | sc.CLONE_NEWNS)
            with open("/proc/self/setgroups", "w") as f:
                f.write("deny")
            with open("/proc/self/uid_map", "w") as f:
                f.write(f"0 {uid} 1\n")
            with open("/proc/self/gid_map", "w") as f:
                f.write(f"0 {gid} 1\n")
            sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)
            out = _CHECKS[test](tmp)
        except OSError as exc:
            out = [f"error {exc}"]
        os.write(w, "\n".join(out).encode())
        os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 65536):
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    return data.decode().splitlines()


def _write(path: Path) -> str:
    try:
        path.write_text("x")
        return "written"
    except OSError as exc:
        return errno.errorcode[exc.errno or 0]


def _tree_with_a_submount(tmp: Path) -> list[str]:
    (tmp / "a").mkdir()
    (tmp / "b").mkdir()
    sc.mount("tmpfs", str(tmp / "a"), "tmpfs", sc.MS_NOSUID | sc.MS_NODEV)
    (tmp / "a" / "sub").mkdir()
    sc.mount("tmpfs", str(tmp / "a" / "sub"), "tmpfs", sc.MS_NOEXEC)
    shown = rootfs._read_only_bind(str(tmp / "a"), str(tmp / "b"))
    return [str(shown), _write(tmp / "b" / "x"), _write(tmp / "b" / "sub" / "x"),
            _write(tmp / "a" / "x")]


def _enter_nested() -> None:
    """A user and mount namespace inside the current one: its mounts become locked here, as
    this machine's are in the box."""
    sc.unshare(sc.CLONE_NEWUSER | sc.CLONE_NEWNS)
    for name, line in (("setgroups", "deny"), ("uid_map", "0 0 1\n"), ("gid_map", "0 0 1\n")):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(line)


def _locked_mount(tmp: Path) -> list[str]:
    (tmp / "src").mkdir()
    (tmp / "c").mkdir()
    sc.mount("tmpfs", str(tmp / "src"), "tmpfs",
             sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC | sc.MS_NOATIME)
    _enter_nested()
    shown = rootfs._read_only_bind(str(tmp / "src"), str(tmp / "c"))
    flags = os.statvfs(tmp / "c").f_flag
    kept = [n for n in ("ST_NOSUID", "ST_NODEV", "ST_NOEXEC", "ST_NOATIME")
            if flags & getattr(os, n)]
    return [str(shown), " ".join(kept), _write(tmp / "c" / "x")]


def _escaped_names(tmp: Path) -> list[str]:
    odd = tmp / "with space\tand\\slash"
    odd.mkdir()
    sc.mount("tmpfs", str(odd), "tmpfs")
    return [repr(p) for p in mountinfo.at_or_below(str(tmp))]


_CHECKS = {"submount": _tree_with_a_submount, "locked": _locked_mount,
           "escaped": _escaped_names}


def test_rootfs_read_only_bind_covers_the_submounts(tmp_path: Path) -> None:
    got = _in_namespaces("submount", tmp_path)
    if got and got[0].startswith("error"):
        pytest.skip(f"no user and mount namespace here: {got[0]}")
    assert got == ["True", "EROFS", "EROFS", "written"]


def test_rootfs_read_only_bind_keeps_the_locked_flags(tmp_path: Path) -> None:
    got = _in_namespaces("locked", tmp_path)
    if got and got[0].startswith("error"):
        pytest.skip(f"no user and mount namespace here: {got[0]}")
    assert got == ["True", "ST_NOSUID ST_NODEV ST_NOEXEC ST_NOATIME", "EROFS"]


def test_mountinfo_decodes_the_octal_escapes_of_mount_points(tmp_path: Path) -> None:
    got = _in_namespaces("escaped", tmp_path)
    if got and got[0].startswith("error"):
        pytest.skip(f"no user and mount namespace here: {got[0]}")
    assert got == [repr(f"{tmp_path}/with space\tand\\slash")]
