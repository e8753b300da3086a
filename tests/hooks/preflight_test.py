"""preflight: disk, mounts, users, groups and commands on this real machine."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest

from agentkit.errors import HookFailed
from agentkit.hooks import preflight
from agentkit.hooks.config import Config

MakeConfig = Callable[[str], Config]


def test_preflight_passes_on_a_sane_machine(tmp_path: Path, make_config: MakeConfig,
                                            log: Any) -> None:
    cfg = make_config(f"version: 1\nrelease: {tmp_path}\npreflight:\n  min_free: 1MB\n"
                      "  users: [root]\n  groups: [root]\n  commands: [sh]\n  mounts: [/]\n")
    preflight.run(cfg, log, bundle_dir=str(tmp_path))


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
    (tmp_path / "bundle").mkdir()
    (tmp_path / "bundle/f").write_bytes(b"x" * 4096)
    cfg = make_config(f"version: 1\nrelease: {tmp_path}\npreflight:\n  min_free: 2x\n")
    assert preflight.problems(cfg, str(tmp_path / "bundle"), agent_root=str(tmp_path)) == []


def test_preflight_checks_the_appspec_users(tmp_path: Path, make_config: MakeConfig,
                                            log: Any) -> None:
    from agentkit.appspec.check import lint_source
    from agentkit.appspec.source import load_text

    spec = lint_source(load_text("appspec.yml", (
        "version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: a.sh\n"
        "      runas: no-such-runas-ak\n"))).appspec
    cfg = make_config(f"version: 1\nrelease: {tmp_path}\n")
    found = preflight.problems(cfg, str(tmp_path), agent_root=str(tmp_path), spec=spec)
    assert found == ["user no-such-runas-ak does not exist"]
