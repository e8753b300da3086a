"""link-shared against real directories, links and tmpfs mounts; shared data is never lost."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

from agentkit.errors import HookFailed
from agentkit.hooks import link_shared
from agentkit.hooks.config import Config

from .conftest import killer, overlay, tmpfs

MakeConfig = Callable[[str], Config]


def _cfg(make: MakeConfig, tmp: Path, **shared: str) -> Config:
    extra = "".join(f"  {k}: {v}\n" for k, v in shared.items())
    return make(f"version: 1\nrelease: {tmp}/release\nshared:\n  root: {tmp}/shared\n"
                f"  dirs: [media, var/log]\n{extra}")


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_link_shared_creates_absolute_links(tmp_path: Path, make_config: MakeConfig,
                                            log: Any) -> None:
    (tmp_path / "release").mkdir()
    link_shared.run(_cfg(make_config, tmp_path), log)
    assert os.readlink(tmp_path / "release/media") == f"{tmp_path}/shared/media"
    assert os.readlink(tmp_path / "release/var/log") == f"{tmp_path}/shared/var/log"
    assert (tmp_path / "shared/media").is_dir()


def test_link_shared_relative_links(tmp_path: Path, make_config: MakeConfig, log: Any) -> None:
    (tmp_path / "release").mkdir()
    link_shared.run(_cfg(make_config, tmp_path, link="relative"), log)
    assert os.readlink(tmp_path / "release/var/log") == "../../shared/var/log"
    assert (tmp_path / "release/var/log").resolve() == (tmp_path / "shared/var/log").resolve()


def test_link_shared_is_idempotent_and_fixes_wrong_links(
        tmp_path: Path, make_config: MakeConfig, log: Any,
        captured: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEPLOYMENT_GROUP_ID", raising=False)
    (tmp_path / "release").mkdir()
    cfg = _cfg(make_config, tmp_path)
    link_shared.run(cfg, log)
    inode = os.lstat(tmp_path / "release/media").st_ino
    captured.clear()
    link_shared.run(cfg, log)
    assert os.lstat(tmp_path / "release/media").st_ino == inode
    assert [e["event"] for e in captured] == ["link already right", "link already right",
                                              NOT_SET]
    os.unlink(tmp_path / "release/media")
    os.symlink("/elsewhere", tmp_path / "release/media")
    link_shared.run(cfg, log)
    assert os.readlink(tmp_path / "release/media") == f"{tmp_path}/shared/media"


def test_link_shared_backs_up_archive_directory(tmp_path: Path, make_config: MakeConfig,
                                                log: Any) -> None:
    (tmp_path / "release/media").mkdir(parents=True)
    (tmp_path / "release/media/from-archive.jpg").write_text("a")
    (tmp_path / "shared/media").mkdir(parents=True)
    (tmp_path / "shared/media/user.jpg").write_text("u")
    link_shared.run(_cfg(make_config, tmp_path), log)
    backups = list((tmp_path / "release").glob("media.agentkit-backup-*"))
    assert len(backups) == 1 and (backups[0] / "from-archive.jpg").read_text() == "a"
    assert (tmp_path / "shared/media/user.jpg").read_text() == "u"
    assert os.path.islink(tmp_path / "release/media")


def test_link_shared_seeds_empty_shared_dir(tmp_path: Path, make_config: MakeConfig,
                                            log: Any) -> None:
    (tmp_path / "release/media").mkdir(parents=True)
    (tmp_path / "release/media/logo.png").write_text("L")
    link_shared.run(_cfg(make_config, tmp_path, on_conflict="seed"), log)
    assert (tmp_path / "shared/media/logo.png").read_text() == "L"
    assert not list((tmp_path / "release").glob("media.agentkit-backup-*"))


def test_link_shared_fail_policy_keeps_everything(tmp_path: Path, make_config: MakeConfig,
                                                  log: Any) -> None:
    (tmp_path / "release/media").mkdir(parents=True)
    (tmp_path / "release/media/x").write_text("x")
    with pytest.raises(HookFailed) as exc:
        link_shared.run(_cfg(make_config, tmp_path, on_conflict="fail"), log)
    assert str(exc.value) == (
        f"{tmp_path}/release/media is a real directory (it came in the archive), where the link "
        f"to {tmp_path}/shared/media belongs; on_conflict is fail. Remove it from the archive, "
        "or set shared.on_conflict to backup or seed.")
    assert (tmp_path / "release/media/x").read_text() == "x"


def test_link_shared_missing_file_policies(tmp_path: Path, make_config: MakeConfig,
                                           log: Any) -> None:
    (tmp_path / "release/app/etc").mkdir(parents=True)
    (tmp_path / "release/app/etc/env.php").write_text("<?php // from archive")
    base = (f"version: 1\nrelease: {tmp_path}/release\nshared:\n  root: {tmp_path}/shared\n"
            "  files: [app/etc/env.php]\n")
    with pytest.raises(HookFailed, match="does not exist"):
        link_shared.run(make_config(base), log)
    link_shared.run(make_config(base + "  missing_file: seed\n"), log)
    assert (tmp_path / "shared/app/etc/env.php").read_text() == "<?php // from archive"
    assert os.path.islink(tmp_path / "release/app/etc/env.php")


def test_link_shared_require_mount_refuses_local_disk(tmp_path: Path, make_config: MakeConfig,
                                                     log: Any) -> None:
    (tmp_path / "release").mkdir()
    with pytest.raises(HookFailed) as exc:
        link_shared.run(_cfg(make_config, tmp_path, require_mount="any"), log)
    assert "is on / (" in str(exc.value) and "not on a separate mount" in str(exc.value)
    assert not (tmp_path / "shared").exists()
    assert not (tmp_path / "release/media").exists()


def test_link_shared_require_mount_on_real_tmpfs(tmp_path: Path, make_config: MakeConfig,
                                                 log: Any) -> None:
    (tmp_path / "release").mkdir()
    with tmpfs(tmp_path / "shared"):
        link_shared.run(_cfg(make_config, tmp_path, require_mount="any"), log)
        assert (tmp_path / "shared/media").is_dir()
        with pytest.raises(HookFailed) as exc:
            link_shared.run(_cfg(make_config, tmp_path, require_mount="nfs"), log)
        assert f"is on {tmp_path}/shared (tmpfs), not on an nfs mount" in str(exc.value)


def test_link_shared_dry_run_changes_nothing(tmp_path: Path, make_config: MakeConfig,
                                             log: Any) -> None:
    (tmp_path / "release/media").mkdir(parents=True)
    link_shared.run(_cfg(make_config, tmp_path), log, dry_run=True)
    assert not (tmp_path / "shared").exists()
    assert (tmp_path / "release/media").is_dir() and not os.path.islink(tmp_path / "release/media")


KILLER = killer(("rename", "symlink", "mkdir", "unlink", "rmdir", "chmod", "lchown"),
                "link_shared.run(cfg, log)")


@pytest.mark.parametrize("kill_at", range(0, 30))
def test_link_shared_sigkill_leaves_old_or_new_and_rerun_completes(
        tmp_path: Path, make_config: MakeConfig, log: Any, kill_at: int) -> None:
    (tmp_path / "release/media").mkdir(parents=True)
    for i in range(20):
        (tmp_path / f"release/media/{i}.jpg").write_text(str(i))
    (tmp_path / "shared/var/log").mkdir(parents=True)
    (tmp_path / "shared/var/log/app.log").write_text("precious")
    cfg = _cfg(make_config, tmp_path, on_conflict="seed")
    before = _snapshot(tmp_path / "release/media")
    proc = subprocess.run([sys.executable, "-c", KILLER, cfg.path, str(kill_at)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode in (0, -signal.SIGKILL), proc.stderr
    media = tmp_path / "release/media"
    assert os.path.lexists(media), "the release lost its media entry"
    assert not os.path.islink(media) or os.readlink(media) == f"{tmp_path}/shared/media"
    link_shared.run(cfg, log)  # a rerun completes whatever was interrupted
    assert os.readlink(media) == f"{tmp_path}/shared/media"
    assert os.readlink(tmp_path / "release/var/log") == f"{tmp_path}/shared/var/log"
    assert (tmp_path / "shared/var/log/app.log").read_text() == "precious"
    # seeding is all or nothing: the share has every file the archive brought
    assert _snapshot(tmp_path / "shared/media") == before


def test_link_shared_unknown_owner_fails_before_any_change(tmp_path: Path,
                                                           make_config: MakeConfig,
                                                           log: Any) -> None:
    (tmp_path / "release").mkdir()
    with pytest.raises(HookFailed) as exc:
        link_shared.run(_cfg(make_config, tmp_path, owner="no-such-user-ak"), log)
    assert str(exc.value) == ("shared.owner/group: there is no user 'no-such-user-ak' on this "
                              "machine; create it in the AMI or fix the config")
    assert not (tmp_path / "shared").exists()


# --- overlayfs: a shipped directory in the lower layer (verify's box, containers) ------------

NOT_SET = ("DEPLOYMENT_GROUP_ID is not set (not run by the CodeDeploy agent): the agent's "
           "cleanup file was not looked at")
EXDEV_LINE = ("this file system cannot rename the archive's directory (EXDEV: overlayfs); "
              "copying it aside instead")


def _ship(lower: Path) -> None:
    """What Install put in the release: media/ with a file, a read-only subdirectory, a
    link; and a directory to prove the kernel refuses to rename it."""
    media = lower / "release/media"
    (media / "sub").mkdir(parents=True)
    (media / "a.jpg").write_text("a")
    (media / "sub/b.jpg").write_text("b")
    os.symlink("a.jpg", media / "l")
    os.chmod(media / "a.jpg", 0o640)
    os.chmod(media / "sub", 0o555)
    (lower / "release/probe").mkdir()


def _tree(root: Path) -> dict[str, tuple[str, int, str]]:
    """Every entry below root, links not followed: kind, mode, content or link target."""
    out = {}
    for path in sorted(root.rglob("*")):
        st = os.lstat(path)
        rel = str(path.relative_to(root))
        if os.path.islink(path):
            out[rel] = ("link", 0, os.readlink(path))
        elif path.is_dir():
            out[rel] = ("dir", st.st_mode & 0o7777, "")
        else:
            out[rel] = ("file", st.st_mode & 0o7777, path.read_text())
    return out


def _overlay_cfg(make: MakeConfig, release: Path, shared: Path, extra: str = "") -> Config:
    return make(f"version: 1\nrelease: {release}\nshared:\n  root: {shared}\n"
                f"  dirs: [media]\n{extra}")


def test_link_shared_on_overlayfs_copies_a_lower_layer_directory_aside(
        tmp_path: Path, make_config: MakeConfig, log: Any, captured: list[dict[str, Any]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEPLOYMENT_GROUP_ID", raising=False)
    _ship(tmp_path / "lower")
    with overlay(tmp_path, tmp_path / "lower") as merged:
        release = merged / "release"
        with pytest.raises(OSError) as refused:  # what the hook meets there
            os.rename(release / "probe", release / "probe-moved")
        assert refused.value.errno == errno.EXDEV
        shipped = _tree(release / "media")
        link_shared.run(_overlay_cfg(make_config, release, tmp_path / "shared"), log)
        names = sorted(os.listdir(release))
        assert names[0] == "media" and names[2] == "probe" and len(names) == 3
        assert re.fullmatch(r"media\.agentkit-backup-\d{14}", names[1])
        assert os.readlink(release / "media") == f"{tmp_path}/shared/media"
        assert _tree(release / names[1]) == shipped  # modes, content and the link kept
        assert _tree(tmp_path / "shared") == {"media": ("dir", 0o755, "")}
    assert [e["event"] for e in captured] == [
        "create shared dir", "create shared dir", "link", EXDEV_LINE,
        "moved aside what the archive put at a shared path", NOT_SET]


def test_link_shared_on_overlayfs_seeds_the_share_from_the_copy(
        tmp_path: Path, make_config: MakeConfig, log: Any) -> None:
    _ship(tmp_path / "lower")
    with overlay(tmp_path, tmp_path / "lower") as merged:
        release = merged / "release"
        shipped = _tree(release / "media")
        link_shared.run(_overlay_cfg(make_config, release, tmp_path / "shared",
                                     "  on_conflict: seed\n"), log)
        assert sorted(os.listdir(release)) == ["media", "probe"]
        assert _tree(tmp_path / "shared/media") == shipped


def test_link_shared_on_overlayfs_full_disk_changes_nothing(
        tmp_path: Path, make_config: MakeConfig, log: Any) -> None:
    _ship(tmp_path / "lower")
    (tmp_path / "lower/release/media/big.bin").write_bytes(b"x" * (3 << 20))
    with overlay(tmp_path, tmp_path / "lower", upper_size="1m") as merged:
        release = merged / "release"
        shipped = _tree(release / "media")
        with pytest.raises(HookFailed) as exc:
            link_shared.run(_overlay_cfg(make_config, release, tmp_path / "shared"), log)
        assert str(exc.value) == (
            f"{release}/media: this file system cannot rename the archive's directory "
            f"(overlayfs: EXDEV), and copying it aside failed at "
            f"{release}/media.agentkit-copy/big.bin: No space left on device. Nothing was "
            "changed; free the space or fix the access and run the hook again, or leave the "
            "directory out of the archive.")
        assert sorted(os.listdir(release)) == ["media", "probe"]  # no temporary name left
        assert _tree(release / "media") == shipped


MANY_KILLER = killer(("rename", "symlink", "mkdir", "unlink", "rmdir", "chmod", "lchown",
                      "utime", "scandir"), "link_shared.run(cfg, log)")
OVERLAY_KILLER = killer(("rename", "symlink", "mkdir", "unlink", "rmdir", "chmod", "lchown",
                         "utime"), "link_shared.run(cfg, log)")


@pytest.mark.parametrize("kill_at", range(0, 26))
def test_link_shared_on_overlayfs_sigkill_then_rerun_completes(
        tmp_path: Path, make_config: MakeConfig, log: Any, kill_at: int) -> None:
    _ship(tmp_path / "lower")
    with overlay(tmp_path, tmp_path / "lower") as merged:
        release = merged / "release"
        media = release / "media"
        before = _snapshot(media)
        cfg = _overlay_cfg(make_config, release, tmp_path / "shared", "  on_conflict: seed\n")
        proc = subprocess.run([sys.executable, "-c", OVERLAY_KILLER, cfg.path, str(kill_at)],
                              capture_output=True, text=True, check=False)
        assert proc.returncode in (0, -signal.SIGKILL), proc.stderr
        # the one window without media: the original removed, the link not yet made
        assert os.path.lexists(media) or os.path.isdir(f"{media}.agentkit-copied")
        link_shared.run(cfg, log)
        assert os.readlink(media) == f"{tmp_path}/shared/media"
        assert [n for n in os.listdir(release) if n not in ("media", "probe")
                and not n.startswith("media.agentkit-backup-")] == []
        assert _snapshot(tmp_path / "shared/media") == before  # seeded whole


def _media_release(tmp: Path, files: int) -> dict[str, bytes]:
    media = tmp / "release/media"
    for i in range(files):
        sub = media / f"{i % 10}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"{i}.jpg").write_text(str(i))
    return _snapshot(media)


def _kill_points(calls: int, wanted: int = 12) -> list[int]:
    """Points spread over every call of a whole run, both ends included."""
    return sorted({0, 1, 2, calls - 2, calls - 1,
                   *(calls * k // wanted for k in range(1, wanted))} - {-1, -2})


@pytest.mark.parametrize("policy", ["seed", "backup", "fail"])
@pytest.mark.parametrize("shared_fs", ["same", "tmpfs"])
def test_link_shared_killed_at_many_points_is_completed_by_the_next_run(
        tmp_path: Path, make_config: MakeConfig, log: Any, policy: str, shared_fs: str) -> None:
    # 1000 files in the archive's media/ and an empty shared dir (a user tried 3000); the
    # share on the release's file system (one rename) or on another one (a copy, as EFS)
    def setup(base: Path) -> tuple[Config, dict[str, bytes]]:
        shipped = _media_release(base, 1000)
        (base / "shared/media").mkdir(parents=True)
        return make_config(f"version: 1\nrelease: {base}/release\nshared:\n  root: "
                           f"{base}/shared\n  dirs: [media]\n  on_conflict: {policy}\n"), shipped

    def run(cfg: Config, budget: int) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", MANY_KILLER, cfg.path, str(budget)],
                              capture_output=True, text=True, check=False)

    def mount(path: Path) -> contextlib.AbstractContextManager[Any]:
        return tmpfs(path, "64m") if shared_fs == "tmpfs" else contextlib.nullcontext()
    with mount(tmp_path / "count/shared"):
        cfg, _ = setup(tmp_path / "count")
        whole = run(cfg, 10 ** 9)
        calls = int(whole.stderr.rsplit("calls=", 1)[1].split()[0])
    for point in _kill_points(calls):
        base = tmp_path / f"at{point}"
        with mount(base / "shared"):
            cfg, shipped = setup(base)
            killed = run(cfg, point)
            assert killed.returncode in (-signal.SIGKILL, 0 if policy != "fail" else 1)
            media = base / "release/media"
            assert os.path.lexists(media), f"killed at {point} of {calls}: media is gone"
            if policy == "fail":
                with pytest.raises(HookFailed):
                    link_shared.run(cfg, log)
                assert _snapshot(media) == shipped and not os.listdir(base / "shared/media")
                continue
            link_shared.run(cfg, log)
            assert os.readlink(media) == f"{base}/shared/media"
            backups = sorted((base / "release").glob("media.agentkit-*"))
            if policy == "seed":  # all or nothing, then all: no file missing in the share
                assert _snapshot(base / "shared/media") == shipped, f"killed at {point}"
            else:  # backup: the share stays empty, the archive's files are all kept aside
                assert not os.listdir(base / "shared/media")
                assert len(backups) == 1 and _snapshot(backups[0]) == shipped, point
            assert not [n for n in os.listdir(base / "shared") if n != "media"], point


def test_link_shared_seed_file_never_hands_a_root_only_file_to_the_shares_owner(
        tmp_path: Path, make_config: MakeConfig, log: Any) -> None:
    # the app user renamed a root-only file (a private key) to config/db.yml in the release:
    # seeding the share from it would let that user read it
    if os.geteuid() != 0:
        pytest.skip("needs root: a share owned by another user")
    import pwd

    nobody = pwd.getpwnam("nobody")
    (tmp_path / "release/config").mkdir(parents=True)
    (tmp_path / "release/config/db.yml").write_text("SECRET-ROOT-ONLY\n")
    os.chmod(tmp_path / "release/config/db.yml", 0o600)
    (tmp_path / "shared/config").mkdir(parents=True)
    os.chown(tmp_path / "shared", nobody.pw_uid, nobody.pw_gid)
    os.chown(tmp_path / "shared/config", nobody.pw_uid, nobody.pw_gid)
    cfg = make_config(f"version: 1\nrelease: {tmp_path}/release\nshared:\n  root: "
                      f"{tmp_path}/shared\n  files: [config/db.yml]\n  missing_file: seed\n")
    with pytest.raises(HookFailed) as exc:
        link_shared.run(cfg, log)
    assert str(exc.value) == (
        f"{tmp_path}/release/config/db.yml: not copied to {tmp_path}/shared/config/db.yml: it "
        f"may be read only by uid 0 (mode 0600), and the shared copy would belong to uid "
        f"{nobody.pw_uid}, who could then read it. Make the release's file readable by that "
        "user if it is meant to be shared, or create the shared file yourself.")
    assert os.listdir(tmp_path / "shared/config") == []
    os.chmod(tmp_path / "release/config/db.yml", 0o644)  # meant to be shared: it is
    link_shared.run(cfg, log)
    assert (tmp_path / "shared/config/db.yml").read_text() == "SECRET-ROOT-ONLY\n"


def _share_of_nobody(tmp_path: Path) -> tuple[Path, Path, int]:
    if os.geteuid() != 0:
        pytest.skip("needs root: a share owned by another user")
    import pwd

    nobody = pwd.getpwnam("nobody").pw_uid
    release, shared = tmp_path / "release", tmp_path / "shared"
    (release / "public").mkdir(parents=True)
    shared.mkdir()
    os.chown(shared, nobody, nobody)
    secret = release / "public/private"
    secret.mkdir(mode=0o700)
    (secret / "key.pem").write_text("SECRET\n")
    return release, shared, nobody


@pytest.mark.parametrize("planted_as", ["uploads", "uploads.agentkit-left",
                                        "uploads.agentkit-tmp"])
def test_link_shared_never_seeds_the_share_with_a_directory_its_owner_could_not_read(
        tmp_path: Path, make_config: MakeConfig, log: Any, planted_as: str) -> None:
    # the app user renamed a root-only directory of the release to the archive's name, or
    # to a name a killed run leaves: seeding would have given it to the share's owner
    release, shared, _ = _share_of_nobody(tmp_path)
    os.rename(release / "public/private", release / "public" / planted_as)
    cfg = make_config(f"version: 1\nrelease: {release}\nshared:\n  root: {shared}\n"
                      "  dirs: [public/uploads]\n  on_conflict: seed\n  owner: nobody\n")
    link_shared.run(cfg, log)
    assert os.listdir(shared / "public/uploads") == []  # not seeded
    kept = [p for p in (release / "public").iterdir() if (p / "key.pem").exists()]
    assert len(kept) == 1 and kept[0].stat().st_uid == 0
    assert kept[0].stat().st_mode & 0o777 == 0o700


def test_link_shared_never_removes_a_directory_planted_at_a_copy_name(
        tmp_path: Path, make_config: MakeConfig, log: Any,
        captured: list[dict[str, Any]]) -> None:
    release, shared, _ = _share_of_nobody(tmp_path)
    (shared / "public").mkdir()
    os.rename(release / "public/private", shared / "public/uploads.agentkit-seeding")
    cfg = make_config(f"version: 1\nrelease: {release}\nshared:\n  root: {shared}\n"
                      "  dirs: [public/uploads]\n")
    link_shared.run(cfg, log)
    assert (shared / "public/uploads.agentkit-seeding/key.pem").read_text() == "SECRET\n"
    assert any(e["event"].startswith("left alone: not a copy of agentkit's") for e in captured)


def test_link_shared_under_a_releases_config_says_what_to_run_instead(
        tmp_path: Path, make_config: MakeConfig, log: Any) -> None:
    cfg = make_config(f"version: 1\nreleases:\n  root: {tmp_path}/app\nshared:\n  root: "
                      f"{tmp_path}/shared\n  dirs: [media]\n")
    with pytest.raises(HookFailed) as exc:
        link_shared.run(cfg, log)
    assert str(exc.value) == (
        f"{cfg.path}: link-shared links into one release (`release:`), and this config uses "
        "`releases:`, where `agentkit hook release` runs link-shared on each new release "
        "itself. Run `agentkit hook release` (AfterInstall), or name the release to link "
        "with `release:`.")
