"""permissions with real users, real EPERM (chattr +i) and a real mount inside the tree."""

from __future__ import annotations

import os
import pwd
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest

from agentkit.errors import HookFailed
from agentkit.hooks import permissions
from agentkit.hooks.config import Config

from ..conftest import real_users
from .conftest import tmpfs

MakeConfig = Callable[[str], Config]
USER = "agentkit-perm"


@pytest.fixture(scope="module")
def user() -> Iterator[str]:
    if os.geteuid() != 0:
        pytest.skip("needs root: chown to another user")
    for (name,) in real_users((USER,), ("/usr/sbin/nologin",), system=True):
        yield name


def _tree(root: Path) -> None:
    (root / "app/var/cache").mkdir(parents=True)
    (root / "app/index.php").write_text("<?php")
    (root / "app/var/cache/x").write_text("c")
    os.chmod(root / "app/index.php", 0o600)
    (root / "app/link").symlink_to("/etc/hostname")


def _rule(root: Path, extra: str = "") -> str:
    return (f"version: 1\npermissions:\n  - path: {root}/app\n    owner: {USER}\n"
            f"    group: {USER}\n    file_mode: '0644'\n    dir_mode: '0755'\n{extra}")


def test_permissions_fixes_owner_and_modes(tmp_path: Path, make_config: MakeConfig, log: Any,
                                           user: str) -> None:
    _tree(tmp_path)
    tally = permissions.run(make_config(_rule(tmp_path)), log)
    uid = pwd.getpwnam(user).pw_uid
    st = os.lstat(tmp_path / "app/index.php")
    assert (st.st_uid, st.st_mode & 0o7777) == (uid, 0o644)
    assert os.lstat(tmp_path / "app/link").st_uid == uid  # lchown: the link, not /etc
    assert os.stat("/etc/hostname").st_uid == 0
    assert tally.changed == 6 and tally.checked == 6


def test_permissions_skips_what_is_already_right(tmp_path: Path, make_config: MakeConfig,
                                                 log: Any, user: str) -> None:
    _tree(tmp_path)
    cfg = make_config(_rule(tmp_path))
    permissions.run(cfg, log)
    again = permissions.run(cfg, log)
    assert (again.checked, again.changed) == (6, 0)


def test_permissions_excludes_relative_globs(tmp_path: Path, make_config: MakeConfig, log: Any,
                                             user: str) -> None:
    _tree(tmp_path)
    permissions.run(make_config(_rule(tmp_path, "    exclude: [var/cache]\n")), log)
    assert os.lstat(tmp_path / "app/var/cache/x").st_uid == 0


def test_permissions_eperm_is_summarised_not_fatal(tmp_path: Path, make_config: MakeConfig,
                                                   log: Any, user: str,
                                                   captured: list[dict[str, Any]]) -> None:
    _tree(tmp_path)
    locked = tmp_path / "app/index.php"
    if subprocess.run(["chattr", "+i", str(locked)], check=False).returncode != 0:
        pytest.skip("chattr +i is not supported on this filesystem")
    try:
        tally = permissions.run(make_config(_rule(tmp_path)), log)
        assert tally.denied == [(str(locked), "Operation not permitted")]
        (warning,) = [e for e in captured if e["log_level"] == "warning"]
        assert warning["event"].startswith(
            f"could not change 1 path(s) under {tmp_path}/app on / (ext4): {locked} (Operation "
            "not permitted). Likely cause: the files are immutable (chattr +i)")
        with pytest.raises(HookFailed):
            permissions.run(make_config(_rule(tmp_path, "    strict: true\n")), log)
    finally:
        subprocess.run(["chattr", "-i", str(locked)], check=False)


def test_permissions_does_not_cross_into_a_mount(tmp_path: Path, make_config: MakeConfig,
                                                 log: Any, user: str) -> None:
    _tree(tmp_path)
    with tmpfs(tmp_path / "app/media") as media:
        (media / "upload.jpg").write_text("u")
        permissions.run(make_config(_rule(tmp_path)), log)
        assert os.lstat(media / "upload.jpg").st_uid == 0
        permissions.run(make_config(_rule(tmp_path, "    cross_mounts: true\n")), log)
        assert os.lstat(media / "upload.jpg").st_uid == pwd.getpwnam(user).pw_uid


def test_permissions_dry_run_changes_nothing(tmp_path: Path, make_config: MakeConfig,
                                             log: Any, user: str) -> None:
    _tree(tmp_path)
    tally = permissions.run(make_config(_rule(tmp_path)), log, dry_run=True)
    assert tally.changed == 6
    assert os.lstat(tmp_path / "app/index.php").st_mode & 0o777 == 0o600


def test_permissions_big_tree_is_shared_with_a_child(tmp_path: Path, make_config: MakeConfig,
                                                     log: Any, user: str) -> None:
    root = tmp_path / "app"
    for i in range(permissions.SPLIT_AT * 2):
        (root / f"d{i}" / "sub").mkdir(parents=True)
        (root / f"d{i}" / "sub" / "f").write_text("x")
    locked = [root / "d1/sub/f", root / "d2/sub/f"]  # one in each half
    for path in locked:
        if subprocess.run(["chattr", "+i", str(path)], check=False).returncode != 0:
            pytest.skip("chattr +i is not supported on this filesystem")
    try:
        cfg = make_config(f"version: 1\npermissions:\n  - path: {root}\n    owner: {USER}\n"
                          "    file_mode: '0640'\n")
        tally = permissions.run(cfg, log)
        entries = 1 + permissions.SPLIT_AT * 2 * 3
        assert (tally.checked, tally.changed) == (entries, entries)
        assert sorted(p for p, _ in tally.denied) == sorted(str(p) for p in locked)
        uid = pwd.getpwnam(user).pw_uid
        assert os.lstat(root / "d100/sub/f").st_uid == uid
        assert os.lstat(root / "d3/sub/f").st_mode & 0o777 == 0o640
    finally:
        for path in locked:
            subprocess.run(["chattr", "-i", str(path)], check=False)
