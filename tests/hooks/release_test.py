"""hook release and `agentkit release`: real directories, links, flock and SIGKILL."""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

from agentkit.cli import main
from agentkit.errors import HookFailed
from agentkit.hooks import release
from agentkit.hooks.config import Config

from .conftest import killer

MakeConfig = Callable[[str], Config]


def _config(make: MakeConfig, tmp: Path, extra: str = "", keep: int = 2) -> Config:
    return make(f"version: 1\nreleases:\n  root: {tmp}/app\n  keep: {keep}\n{extra}"
                "events:\n  AfterInstall: [release]\n")


def _stage(tmp: Path, n: int, files: int = 3) -> None:
    """What the agent's Install puts in the staging destination for deployment n."""
    staging = tmp / "app/staging"
    for i in range(files):
        (staging / "sub").mkdir(parents=True, exist_ok=True)
        (staging / ("index.html" if i == 0 else f"sub/{i}.txt")).write_text(f"release {n}\n")


def _deploy(tmp: Path, cfg: Config, log: Any, n: int, monkeypatch: pytest.MonkeyPatch,
            event: str = "AfterInstall") -> None:
    monkeypatch.setenv("DEPLOYMENT_ID", f"d-00000000{n}")
    monkeypatch.setenv("LIFECYCLE_EVENT", event)
    if event == "AfterInstall":
        _stage(tmp, n)
    release.run(cfg, log)


def _contents(root: Path) -> set[str]:
    return {p.read_text() for p in root.rglob("*") if p.is_file() and p.name != "REVISION"}


def test_release_three_deployments_keep_prunes_and_rollback_is_one_rename(
        tmp_path: Path, make_config: MakeConfig, log: Any,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _config(make_config, tmp_path)
    for n in (1, 2, 3):
        _deploy(tmp_path, cfg, log, n, monkeypatch)
        assert os.readlink(tmp_path / "app/current") == f"releases/d-00000000{n}"
        assert _contents(tmp_path / "app/current") == {f"release {n}\n"}
        assert os.listdir(tmp_path / "app/staging") == []  # emptied for the next Install
    assert sorted(os.listdir(tmp_path / "app/releases")) == ["d-000000002", "d-000000003"]
    revision = json.loads((tmp_path / "app/current/REVISION").read_text())
    assert (revision["release"], revision["deployment_id"]) == ("d-000000003", "d-000000003")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", revision["created"])
    assert [(r.id, r.state) for r in release.listing(cfg.releases)] == [  # type: ignore[arg-type]
        ("d-000000002", "previous"), ("d-000000003", "current")]
    before = os.lstat(tmp_path / "app/current").st_ino
    monkeypatch.delenv("LIFECYCLE_EVENT")
    assert main(["release", "rollback", "--config", cfg.path]) == 0
    assert os.readlink(tmp_path / "app/current") == "releases/d-000000002"
    assert os.lstat(tmp_path / "app/current").st_ino != before  # a new link renamed over it
    capsys.readouterr()
    assert main(["release", "list", "--config", cfg.path]) == 0
    listed = [line.split()[:2] for line in capsys.readouterr().out.splitlines()]
    assert listed == [["release", "state"], ["d-000000003", "previous"],
                      ["d-000000002", "current"]]


def test_release_swap_at_application_start_keeps_current_until_then(
        tmp_path: Path, make_config: MakeConfig, log: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = _config(make_config, tmp_path, "  swap: ApplicationStart\n")
    _deploy(tmp_path, cfg, log, 1, monkeypatch)
    assert not os.path.lexists(tmp_path / "app/current")
    _deploy(tmp_path, cfg, log, 1, monkeypatch, event="ApplicationStart")
    _deploy(tmp_path, cfg, log, 2, monkeypatch)
    assert os.readlink(tmp_path / "app/current") == "releases/d-000000001"  # not yet
    assert [(r.id, r.state) for r in release.listing(cfg.releases)] == [  # type: ignore[arg-type]
        ("d-000000001", "current"), ("d-000000002", "prepared")]
    _deploy(tmp_path, cfg, log, 2, monkeypatch, event="ApplicationStart")
    assert os.readlink(tmp_path / "app/current") == "releases/d-000000002"
    monkeypatch.setenv("LIFECYCLE_EVENT", "ValidateService")
    with pytest.raises(HookFailed) as exc:
        release.run(cfg, log)
    assert str(exc.value) == ("`release` runs in AfterInstall (and ApplicationStart, "
                              "releases.swap), not in ValidateService: move it in "
                              "agentkit.yml's events.")


def test_release_current_directory_is_exchanged_for_the_link(
        tmp_path: Path, make_config: MakeConfig, log: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "app/current").mkdir(parents=True)
    (tmp_path / "app/current/old.html").write_text("in place\n")
    cfg = _config(make_config, tmp_path)
    _deploy(tmp_path, cfg, log, 1, monkeypatch)
    assert os.readlink(tmp_path / "app/current") == "releases/d-000000001"
    [kept] = [p for p in (tmp_path / "app/releases").iterdir() if p.name.endswith("agentkit")]
    assert re.fullmatch(r"\d{14}-before-agentkit", kept.name)
    assert (kept / "old.html").read_text() == "in place\n"


def test_release_lock_held_elsewhere_fails_naming_the_holder(
        tmp_path: Path, make_config: MakeConfig, log: Any, captured: list[dict[str, Any]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = _config(make_config, tmp_path)
    assert cfg.releases is not None
    (tmp_path / "app").mkdir()
    lock = tmp_path / "app" / release.LOCK
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({str(lock)!r}, os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\nos.write(fd, f'{os.getpid()}\\n'.encode())\n"
        "print('held', flush=True)\ntime.sleep(30)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(HookFailed) as exc, release.locked(cfg.releases, log, wait=0.2):
            pass
        assert str(exc.value) == (
            f"{lock} is held by process {holder.pid} (another deployment or a rollback) "
            "after waiting 0.2 s; let it finish, or stop it: the lock ends with its holder.")
    finally:
        holder.kill()
        holder.wait()
    # the holder was killed: its lock went with it, and the file it left is said to be stale
    with release.locked(cfg.releases, log, wait=0.2):
        fd = os.open(lock, os.O_RDONLY)
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held by this process now
        os.close(fd)
    assert [e["pid"] for e in captured if e["event"] == "took over a stale release lock"] == [
        holder.pid]


@pytest.mark.parametrize(("text", "said"), [
    ("releases:\n  root: /srv/app\n  keep: 1\n", "{path}:4: releases > keep: expected an "
     "integer of at least 2 (the current and the previous release are always kept), got 1"),
    ("releases:\n  root: /srv/app\n  staging: /srv/app/releases/x\n", "{path}:4: releases > "
     "staging: must not be releases.root, its current or anything in releases/ (it is the "
     "appspec's files destination, emptied by every release)"),
    ("events:\n  AfterInstall: [release]\n", "{path}:3: events > AfterInstall: 'release' "
     "needs a `releases` section"),
])
def test_release_config_problems_name_the_line(tmp_path: Path, make_config: MakeConfig,
                                               text: str, said: str) -> None:
    from agentkit.errors import BadConfig

    with pytest.raises(BadConfig) as exc:
        make_config("version: 1\n" + text)
    assert str(exc.value) == said.format(path=tmp_path / "agentkit.yml")


RELEASE_KILLER = killer(("rename", "symlink", "mkdir", "unlink", "rmdir", "chmod", "scandir",
                         "fsync", "lchown"), "release.run(cfg, log)").replace(
    "from agentkit.hooks import config,", "from agentkit.hooks import release, config,")


def test_release_killed_at_many_points_leaves_current_complete(
        tmp_path: Path, make_config: MakeConfig, log: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # a deployment with shared links and a prune to do, killed at points spread over all of
    # its file system calls: current is always a whole release, and a rerun completes it
    extra = "shared:\n  root: {tmp}/shared\n  dirs: [sub/media]\n"

    def setup(base: Path) -> Config:
        cfg = _config(make_config, base, extra.format(tmp=base))
        for n in (1, 2):
            _deploy(base, cfg, log, n, monkeypatch)
        _stage(base, 3, files=40)
        return cfg

    env = {**os.environ, "DEPLOYMENT_ID": "d-000000003", "LIFECYCLE_EVENT": "AfterInstall"}

    def run(cfg: Config, budget: int) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", RELEASE_KILLER, cfg.path, str(budget)],
                              capture_output=True, text=True, check=False, env=env)

    whole = run(setup(tmp_path / "count"), 10 ** 9)
    assert whole.returncode == 0, whole.stderr
    calls = int(whole.stderr.rsplit("calls=", 1)[1].split()[0])
    for point in sorted({0, 1, calls - 1, *(calls * k // 12 for k in range(1, 12))}):
        base = tmp_path / f"at{point}"
        cfg = setup(base)
        killed = run(cfg, point)
        assert killed.returncode == -signal.SIGKILL, (point, killed.stderr)
        current = base / "app/current"
        assert os.readlink(current) in ("releases/d-000000002", "releases/d-000000003")
        n = os.readlink(current)[-1]
        assert (current / "REVISION").is_file(), f"killed at {point}: current is partial"
        assert _contents(current) == {f"release {n}\n"}
        assert len(list(current.rglob("*.txt"))) == (39 if n == "3" else 2), point
        monkeypatch.setenv("DEPLOYMENT_ID", "d-000000003")
        monkeypatch.setenv("LIFECYCLE_EVENT", "AfterInstall")
        release.run(cfg, log)  # the rerun of the killed hook
        assert os.readlink(current) == "releases/d-000000003", point
        assert len(list(current.rglob("*.txt"))) == 39
        assert os.readlink(current / "sub/media") == f"{base}/shared/sub/media"
        assert sorted(os.listdir(base / "app/releases")) == ["d-000000002", "d-000000003"]


def test_release_rollback_runs_restart_and_says_when_it_fails(
        tmp_path: Path, make_config: MakeConfig, log: Any,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "restarted"
    cfg = _config(make_config, tmp_path,
                  f"  restart: [sh, -c, 'readlink {tmp_path}/app/current > {marker}']\n")
    for n in (1, 2):
        _deploy(tmp_path, cfg, log, n, monkeypatch)
    monkeypatch.delenv("LIFECYCLE_EVENT")
    assert main(["release", "rollback", "--config", cfg.path]) == 0
    assert marker.read_text() == "releases/d-000000001\n"  # run after the swap
    assert main(["release", "rollback", "--config", cfg.path, "--to", "d-000000009"]) == 1
    assert capsys.readouterr().err.strip().endswith(
        f"d-000000009 is not a complete release in {tmp_path}/app/releases (agentkit release "
        "list shows them).")
    broken = _config(make_config, tmp_path, "  restart: [sh, -c, 'echo nope >&2; exit 3']\n")
    assert main(["release", "rollback", "--config", broken.path]) == 1
    assert capsys.readouterr().err.strip().endswith(
        "rolled back to d-000000002 (current points at it), but releases.restart `sh -c echo "
        "nope >&2; exit 3` exited 3: nope")
    assert os.readlink(tmp_path / "app/current") == "releases/d-000000002"


def test_release_staging_that_is_a_link_is_refused(
        tmp_path: Path, make_config: MakeConfig, log: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "app").mkdir()
    os.symlink(tmp_path / "elsewhere", tmp_path / "app/staging")
    cfg = _config(make_config, tmp_path)
    monkeypatch.setenv("DEPLOYMENT_ID", "d-000000001")
    monkeypatch.setenv("LIFECYCLE_EVENT", "AfterInstall")
    with pytest.raises(HookFailed) as exc:
        release.run(cfg, log)
    assert str(exc.value) == (f"releases.staging {tmp_path}/app/staging is not a directory "
                              "(a link?): the release is built from it in place; make it a "
                              "plain directory.")
    assert os.listdir(tmp_path / "elsewhere") == []


def test_release_after_a_kill_mid_exchange_and_the_history_it_keeps(
        tmp_path: Path, make_config: MakeConfig, log: Any, captured: list[dict[str, Any]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # killed right after current (a directory) was exchanged for the link: the old tree
    # waits at the temporary name; the next run keeps it as a release and goes on
    (tmp_path / "app/.current.agentkit-tmp").mkdir(parents=True)
    (tmp_path / "app/.current.agentkit-tmp/old.html").write_text("in place\n")
    cfg = _config(make_config, tmp_path, keep=5)
    for n in (1, 2):
        _deploy(tmp_path, cfg, log, n, monkeypatch)
    kept = [p for p in (tmp_path / "app/releases").iterdir() if p.name.endswith("agentkit")]
    assert [(p / "old.html").read_text() for p in kept] == ["in place\n"]
    # the lock file is empty between runs: no "stale lock" for a run that ended well
    assert (tmp_path / "app" / release.LOCK).read_text() == ""
    assert not [e for e in captured if e["event"] == "took over a stale release lock"]


def test_release_rollback_right_after_migrating_from_a_directory(
        tmp_path: Path, make_config: MakeConfig, log: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "app/current").mkdir(parents=True)
    (tmp_path / "app/current/old.html").write_text("in place\n")
    cfg = _config(make_config, tmp_path)
    _deploy(tmp_path, cfg, log, 1, monkeypatch)
    assert cfg.releases is not None
    before = release.previous_id(cfg.releases)
    assert before is not None and before.endswith("-before-agentkit")
    monkeypatch.delenv("LIFECYCLE_EVENT")
    assert main(["release", "rollback", "--config", cfg.path]) == 0
    assert (tmp_path / "app/current/old.html").read_text() == "in place\n"


def test_release_dry_run_changes_nothing_and_says_what_it_would_do(
        tmp_path: Path, make_config: MakeConfig, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # `hook release --dry-run` (and `hook run --dry-run` listing release) crashed with
    # "got multiple values for argument 'event'" (exit 3)
    cfg = _config(make_config, tmp_path, f"log:\n  file: {tmp_path}/log/hooks.log\n")
    _stage(tmp_path, 1)
    before = sorted(str(p) for p in (tmp_path / "app").rglob("*"))
    monkeypatch.setenv("DEPLOYMENT_ID", "d-000000001")
    monkeypatch.delenv("LIFECYCLE_EVENT", raising=False)
    assert main(["hook", "release", "--dry-run", "--config", cfg.path]) == 0
    monkeypatch.setenv("LIFECYCLE_EVENT", "AfterInstall")
    assert main(["hook", "run", "--dry-run", "--config", cfg.path]) == 0
    out = capsys.readouterr().out
    # by hand, and in AfterInstall with releases.swap's default (AfterInstall): all of it
    assert out.count(f"would='build {tmp_path}/app/releases/d-000000001 from "
                     f"{tmp_path}/app/staging; point {tmp_path}/app/current at "
                     "releases/d-000000001; prune beyond keep=2'") == 2
    assert sorted(str(p) for p in (tmp_path / "app").rglob("*")) == before


def _health_cfg(make: MakeConfig, tmp: Path, restart: str = "") -> Config:
    return make(f"version: 1\nreleases:\n  root: {tmp}/app\n{restart}"
                f"health:\n  file: {tmp}/app/current/health.html\n  drain: {{interval: 0}}\n"
                f"events:\n  AfterInstall: [release, health up]\n  ApplicationStop: "
                f"[health down]\nlog:\n  file: {tmp}/log/hooks.log\n")


@pytest.mark.parametrize("state", ["up", "down"])
def test_release_rollback_keeps_the_health_state(
        tmp_path: Path, make_config: MakeConfig, log: Any, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], state: str) -> None:
    # deployment 2's ApplicationStop took the health file out of release 1; rolling back to
    # release 1 while the instance serves must not leave it out of the load balancer
    from agentkit.hooks import health

    cfg = _health_cfg(make_config, tmp_path)
    for n in (1, 2):
        if n == 2:
            health.down(cfg, log)  # ApplicationStop of deployment 2, in release 1
        _deploy(tmp_path, cfg, log, n, monkeypatch)
        health.up(cfg, log)
    if state == "down":  # the instance was taken out of service on purpose
        health.down(cfg, log)
    monkeypatch.delenv("LIFECYCLE_EVENT")
    monkeypatch.delenv("DEPLOYMENT_ID")  # by hand
    assert main(["release", "rollback", "--config", cfg.path]) == 0
    assert os.readlink(tmp_path / "app/current") == "releases/d-000000001"
    assert (tmp_path / "app/releases/d-000000001/health.html").exists() == (state == "up")
    out = capsys.readouterr().out
    assert f"health state kept through the rollback state={state}" in out
    assert ("no releases.restart is configured: processes that loaded the old release keep "
            "running it until they are restarted (set releases.restart, e.g. [systemctl, "
            "restart, app]) release=d-000000001") in out


@pytest.mark.parametrize("revision", ["[" * 200_000, '{"created": [1], "deployment_id": '
                                      '"d-1\\u001b[2J\\u001b[31mFAKE"}'])
def test_release_list_survives_a_revision_the_app_user_wrote(
        tmp_path: Path, make_config: MakeConfig, log: Any, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], revision: str) -> None:
    # a release the application user owns (permissions gave it the tree) holds its REVISION:
    # a nesting that exhausts the parser, values of other types, terminal escapes
    cfg = _config(make_config, tmp_path)
    for n in (1, 2):
        _deploy(tmp_path, cfg, log, n, monkeypatch)
    (tmp_path / "app/releases/d-000000001/REVISION").write_text(revision)
    monkeypatch.delenv("LIFECYCLE_EVENT")
    capsys.readouterr()
    assert main(["release", "list", "--config", cfg.path]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    old = next(line for line in out.splitlines() if line.startswith("d-000000001"))
    assert old.split()[1:] == (["previous", "?", "d-1?[2J?[31mFAKE"] if "FAKE" in revision
                               else ["previous", "?", "-"])
    _deploy(tmp_path, cfg, log, 3, monkeypatch)  # and a prune reads it too
    assert sorted(os.listdir(tmp_path / "app/releases")) == ["d-000000002", "d-000000003"]


def test_release_lock_is_roots_and_a_hard_link_there_is_refused(
        tmp_path: Path, make_config: MakeConfig, log: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = _config(make_config, tmp_path)
    _deploy(tmp_path, cfg, log, 1, monkeypatch)
    lock = tmp_path / "app" / release.LOCK
    assert os.stat(lock).st_mode & 0o777 == 0o600  # nobody else can hold it with flock
    lock.unlink()
    (tmp_path / "canary").write_text("root's file\n")
    os.link(tmp_path / "canary", lock)
    with pytest.raises(HookFailed) as exc:
        _deploy(tmp_path, cfg, log, 2, monkeypatch)
    assert str(exc.value).startswith(
        f"the release lock: {lock}: a file with another name elsewhere (a hard link) stands "
        "where a file of its own was expected; it was left alone and not followed.")
    assert (tmp_path / "canary").read_text() == "root's file\n"


def test_release_root_others_may_write_is_refused(
        tmp_path: Path, make_config: MakeConfig, log: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # another user who may write releases.root could swap current or the history, or hold
    # the lock with a file of its own
    (tmp_path / "app").mkdir()
    os.chmod(tmp_path / "app", 0o777)
    cfg = _config(make_config, tmp_path)
    with pytest.raises(HookFailed) as exc:
        _deploy(tmp_path, cfg, log, 1, monkeypatch)
    assert str(exc.value) == (
        f"releases.root {tmp_path}/app may be written by others (uid {os.getuid()}, mode "
        "0777): the releases, `current`, their history and the release lock live there, so "
        "only root (or the user the hook runs as) may write it. Make it root's and not "
        "writable by group or others (chown root: and chmod go-w); give the application "
        "user the directories inside a release it needs (permissions:).")
