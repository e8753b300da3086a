"""permissions with real users, real EPERM (chattr +i) and a real mount inside the tree."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest

from agentkit.errors import HookFailed
from agentkit.hooks import permissions
from agentkit.hooks.config import Config

from ..conftest import real_users
from .conftest import as_user, killer, tmpfs

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


def _modes_rule(root: Path, extra: str = "") -> str:
    """Modes only: no other user needed, so it runs as whoever runs the tests."""
    return (f"version: 1\npermissions:\n  - path: {root}\n    file_mode: '0644'\n"
            f"    dir_mode: '0755'\n{extra}")


def test_permissions_erofs_is_summarised_not_fatal(tmp_path: Path, make_config: MakeConfig,
                                                   log: Any,
                                                   captured: list[dict[str, Any]]) -> None:
    # a real read-only file system: a tmpfs remounted ro under the rule's path
    with tmpfs(tmp_path / "app") as app:
        (app / "index.php").write_text("<?php")
        os.chmod(app / "index.php", 0o600)
        done = subprocess.run(["mount", "-o", "remount,ro", str(app)], capture_output=True,
                              text=True, check=False)
        assert done.returncode == 0, done.stderr
        expected = (f"could not change 2 path(s) under {app} on {app} (tmpfs): {app} (Read-only "
                    f"file system), {app}/index.php (Read-only file system). Likely cause: the "
                    "filesystem is mounted read-only. Exclude these paths, set ownership on the "
                    "storage side, or set strict: true to fail on it.")
        tally = permissions.run(make_config(_modes_rule(app)), log)
        assert (tally.checked, tally.changed) == (2, 2)
        assert tally.denied == [(str(app), "Read-only file system"),
                                (f"{app}/index.php", "Read-only file system")]
        assert [(e["log_level"], e["event"]) for e in captured if e["log_level"] != "info"] == [
            ("warning", expected)]
        with pytest.raises(HookFailed) as exc:
            permissions.run(make_config(_modes_rule(app, "    strict: true\n")), log)
        assert str(exc.value) == expected
        assert os.stat(app / "index.php").st_mode & 0o777 == 0o600


def test_permissions_eacces_is_summarised_not_fatal(plain_user: tuple[int, int, str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # a plain user's hook meets a directory it may not read (root meets the same on
    # root-squashed NFS): it is named in the summary, the rest is fixed, the hook succeeds
    uid, gid, name = plain_user
    scratch = Path(tempfile.mkdtemp(prefix="agentkit-perm-"))  # pytest's tmp is root's only
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # a crash log would land here
    app = scratch / "app"
    try:
        os.chmod(scratch, 0o755)
        (app / "locked").mkdir(parents=True)
        (app / "locked/secret").write_text("s")
        (app / "index.php").write_text("<?php")
        cfg = scratch / "agentkit.yml"
        cfg.write_text(f"version: 1\npermissions:\n  - path: {app}\n    file_mode: '0640'\n"
                       f"log:\n  file: {scratch}/log/hooks.log\n")
        for path in (scratch, app, app / "locked", app / "locked/secret", app / "index.php",
                     cfg):
            os.chown(path, uid, gid)
        os.chmod(app / "locked", 0)  # not even its owner may read it
        expected = (f"could not change 1 path(s) under {app} on / ({_fstype('/')}): "
                    f"{app}/locked (Permission denied). Likely cause: this hook runs as {name} "
                    f"(uid {uid}), not root: it cannot give files to another owner, may change "
                    "the mode only of what it owns, and cannot enter directories it may not "
                    "read. Exclude these paths, set ownership on the storage side, or set "
                    "strict: true to fail on it.")
        code, out, err = as_user(plain_user, ["hook", "permissions", "--config", str(cfg)], scratch)
        assert (code, err) == (0, ""), out + err
        assert out.splitlines()[-1].endswith(f" [warning  ] {expected}")
        (record,) = [json.loads(line) for line in (scratch / "log/hooks.log").read_text(
        ).splitlines() if json.loads(line)["level"] == "warning"]
        assert record["event"] == expected
        assert os.stat(app / "index.php").st_mode & 0o777 == 0o640
        assert os.stat(app / "locked").st_mode & 0o777 == 0
        cfg.write_text(cfg.read_text().replace("'0640'\n", "'0640'\n    strict: true\n"))
        code, out, err = as_user(plain_user, ["hook", "permissions", "--config", str(cfg)], scratch)
        assert (code, err) == (1, f"agentkit: error: {expected}\n")
        assert sorted(os.listdir(scratch)) == ["agentkit.yml", "app", "log", "stderr", "stdout"]
    finally:
        if app.exists():
            os.chmod(app / "locked", 0o700)
        shutil.rmtree(scratch)


def _fstype(mountpoint: str) -> str:
    from agentkit.hooks import mounts

    return mounts.mount_of(mountpoint).fstype


PERM_KILLER = killer(("chmod", "chown", "scandir"), "permissions.run(cfg, log)")


def test_permissions_killed_at_many_points_is_completed_by_the_next_run(
        tmp_path: Path, make_config: MakeConfig, log: Any) -> None:
    me = pwd.getpwuid(os.getuid()).pw_name
    rule = (f"version: 1\npermissions:\n  - path: {tmp_path}/app\n    owner: {me}\n"
            f"    group: {me}\n    file_mode: '0644'\n    dir_mode: '0750'\n")

    def setup() -> Config:
        if (tmp_path / "app").exists():
            shutil.rmtree(tmp_path / "app")
        for i in range(300):
            sub = tmp_path / f"app/d{i % 12}"
            sub.mkdir(parents=True, exist_ok=True)
            os.chmod(sub, 0o777)
            (sub / f"{i}.php").write_text("<?php")
            os.chmod(sub / f"{i}.php", 0o666)
        return make_config(rule)

    def modes() -> set[tuple[str, int]]:
        return {("dir" if p.is_dir() else "file", p.stat().st_mode & 0o7777)
                for p in [tmp_path / "app", *(tmp_path / "app").rglob("*")]}

    cfg = setup()
    whole = subprocess.run([sys.executable, "-c", PERM_KILLER, cfg.path, str(10 ** 9)],
                           capture_output=True, text=True, check=False)
    calls = int(whole.stderr.rsplit("calls=", 1)[1].split()[0])
    assert whole.returncode == 0 and calls > 300, whole.stderr
    for point in sorted({0, 1, calls - 1, *(calls * k // 10 for k in range(1, 10))}):
        cfg = setup()
        killed = subprocess.run([sys.executable, "-c", PERM_KILLER, cfg.path, str(point)],
                                capture_output=True, text=True, check=False)
        assert killed.returncode == -signal.SIGKILL, (point, killed.stderr)
        assert modes() != {("dir", 0o750), ("file", 0o644)}, point  # it was cut short
        permissions.run(cfg, log)
        assert modes() == {("dir", 0o750), ("file", 0o644)}, f"killed at {point} of {calls}"


def test_permissions_tree_deeper_than_its_descriptors_is_left_with_a_warning(
        tmp_path: Path) -> None:
    # one descriptor a level: 300 levels under a limit of 64 (an app user's tree made that
    # deep to stop every deployment) is named and left, and the hook still succeeds
    import shutil as sh

    if sh.which("prlimit") is None:
        pytest.skip("prlimit (util-linux) is not installed here")
    deep = tmp_path / "app"
    fd = os.open(tmp_path, os.O_RDONLY)
    os.mkdir("app", dir_fd=fd)
    for _ in range(300):
        nxt = os.open("app" if _ == 0 else "d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = nxt
        os.mkdir("d", 0o700, dir_fd=fd)
    os.close(fd)
    cfg = tmp_path / "agentkit.yml"
    cfg.write_text(f"version: 1\npermissions:\n  - path: {deep}\n    dir_mode: '0750'\n"
                   f"log:\n  file: {tmp_path}/hooks.log\n")
    done = subprocess.run(["prlimit", "--nofile=64:64", sys.executable, "-m", "agentkit",
                           "hook", "permissions", "--config", str(cfg)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "deeper than the descriptors this process may hold; left as it is" in done.stdout
