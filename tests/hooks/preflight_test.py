"""preflight: disk, mounts, users, groups and commands on this real machine."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

import pytest

from agentkit.errors import HookFailed
from agentkit.hooks import preflight
from agentkit.hooks.config import Config

from .conftest import as_user, tmpfs

MakeConfig = Callable[[str], Config]


def test_preflight_passes_on_a_sane_machine(tmp_path: Path, make_config: MakeConfig, log: Any,
                                            captured: list[dict[str, Any]]) -> None:
    cfg = make_config(f"version: 1\nrelease: {tmp_path}\npreflight:\n  min_free: 1MB\n"
                      "  users: [root]\n  groups: [root]\n  commands: [sh]\n  mounts: [/]\n")
    assert preflight.problems(cfg, str(tmp_path), agent_root=str(tmp_path)) == []
    preflight.run(cfg, log, bundle_dir=str(tmp_path))
    assert [(e["event"], e["log_level"]) for e in captured] == [("preflight passed", "info")]


def test_preflight_lists_every_problem(tmp_path: Path, make_config: MakeConfig,
                                       log: Any) -> None:
    (tmp_path / "bundle").mkdir()
    (tmp_path / "bundle/big").write_bytes(b"x" * 1000)
    cfg = make_config(f"version: 1\nrelease: {tmp_path}\npreflight:\n  min_free: 100TB\n"
                      "  users: [no-such-user-ak]\n  groups: [no-such-group-ak]\n"
                      f"  commands: [no-such-command-ak]\n  mounts: [{tmp_path}]\n")
    found = preflight.problems(cfg, str(tmp_path / "bundle"), agent_root=str(tmp_path))
    assert found[2:] == [f"{tmp_path} is not mounted", "user no-such-user-ak does not exist",
                         "group no-such-group-ak does not exist",
                         "command no-such-command-ak is not on PATH"]
    assert found[0].startswith("only ") and found[0].endswith(
        "need 104857600 MB (min_free 100TB of a 0 MB bundle)")
    with pytest.raises(HookFailed, match=r"^preflight: 6 problem\(s\): "):
        preflight.run(cfg, log, bundle_dir=str(tmp_path / "bundle"))


def test_preflight_min_free_is_a_multiple_of_the_bundle(tmp_path: Path, make_config: MakeConfig,
                                                        log: Any) -> None:
    # a real 8 MiB file system for the release and the agent's root: a 3 MiB bundle fits
    # twice, not three times
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "f").write_bytes(b"x" * (3 << 20))
    with tmpfs(tmp_path / "small") as small:
        release, agent_root = small / "release", small / "opt/codedeploy-agent/deployment-root"
        release.mkdir()
        for min_free, found in (("2x", []), ("3x", [
                f"only 8 MB free for {release}, need 9 MB (min_free 3x of a 3 MB bundle)",
                f"only 8 MB free for {agent_root}, need 9 MB (min_free 3x of a 3 MB bundle)"])):
            cfg = make_config(f"version: 1\nrelease: {release}\npreflight:\n"
                              f"  min_free: {min_free}\n")
            assert preflight.problems(cfg, str(bundle), agent_root=str(agent_root)) == found


def test_preflight_shortfall_is_never_shown_as_enough(tmp_path: Path, make_config: MakeConfig,
                                                     log: Any) -> None:
    # 8.5 MB needed, 8 MiB free: the need is rounded up, never "only 8 MB free, need 8 MB"
    with tmpfs(tmp_path / "release") as release:
        cfg = make_config(f"version: 1\nrelease: {release}\npreflight:\n  min_free: 8.5MB\n")
        assert preflight.problems(cfg, str(tmp_path / "bundle"), agent_root=str(tmp_path)) == [
            f"only 8 MB free for {release}, need 9 MB (min_free 8.5MB of a 0 MB bundle)"]
        with pytest.raises(HookFailed) as exc:
            preflight.run(cfg, log, bundle_dir=str(tmp_path / "bundle"))
        # run() also checks the agent's real deployment root (on this machine's disk)
        assert str(exc.value) == (f"preflight: 1 problem(s): only 8 MB free for {release}, "
                                  "need 9 MB (min_free 8.5MB of a 0 MB bundle)")


def test_preflight_checks_the_appspec_users(tmp_path: Path, make_config: MakeConfig,
                                            log: Any) -> None:
    from agentkit.appspec.check import lint_source
    from agentkit.yamlconf.source import load_text

    spec = lint_source(load_text("appspec.yml", (
        "version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: a.sh\n"
        "      runas: no-such-runas-ak\n"))).appspec
    cfg = make_config(f"version: 1\nrelease: {tmp_path}\n")
    found = preflight.problems(cfg, str(tmp_path), agent_root=str(tmp_path), spec=spec)
    assert found == ["user no-such-runas-ak does not exist"]


def test_preflight_and_hook_run_as_a_user_who_cannot_write_the_releases(
        plain_user: tuple[int, int, str], monkeypatch: pytest.MonkeyPatch) -> None:
    # a `runas` user that may not write releases.root: preflight said "preflight passed" and
    # `hook run` in AfterInstall crashed with PermissionError (exit 3)
    uid, gid, name = plain_user
    scratch = Path(tempfile.mkdtemp(prefix="agentkit-pre-"))  # pytest's tmp is root's only
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # a crash log would land here
    try:
        os.chmod(scratch, 0o755)
        app = scratch / "app"
        (app / "staging").mkdir(parents=True)
        (app / "staging/index.html").write_text("hi\n")
        cfg = scratch / "agentkit.yml"
        cfg.write_text(f"version: 1\nreleases:\n  root: {app}\nevents:\n  BeforeInstall: "
                       f"[preflight]\n  AfterInstall: [release]\nlog:\n  file: "
                       f"{scratch}/log/hooks.log\n")
        for path in (scratch, app, app / "staging", app / "staging/index.html", cfg):
            os.chown(path, uid, gid)
        os.chmod(app, 0o555)  # not even its owner may write it
        monkeypatch.setenv("DEPLOYMENT_ID", "d-000000001")
        monkeypatch.setenv("LIFECYCLE_EVENT", "BeforeInstall")
        code, out, err = as_user(plain_user, ["hook", "run", "--config", str(cfg)], scratch)
        problem = (f"{app} is not writable by {name} (uid {uid}), and release writes there: "
                   "run the hook as root (no runas for it in appspec.yml) or give that user "
                   "write access")
        assert (code, err) == (1, f"agentkit: error: preflight: 1 problem(s): {problem}\n"), \
            [p.read_text() for p in scratch.glob("agentkit-crash-*")]
        monkeypatch.setenv("LIFECYCLE_EVENT", "AfterInstall")
        code, out, err = as_user(plain_user, ["hook", "run", "--config", str(cfg)], scratch)
        assert code == 1 and "Traceback" not in out + err, out + err
        assert err == (f"agentkit: error: agentkit hook release: {app}/releases: Permission "
                       "denied (errno EACCES); the action stopped there. If something else "
                       "changes this tree at the same time (another deployment, the "
                       "application), let it finish and run the deployment again.\n")
        assert sorted(os.listdir(app)) == ["staging"]  # nothing half made
    finally:
        os.chmod(scratch / "app", 0o755)
        shutil.rmtree(scratch)
