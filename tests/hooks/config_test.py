"""agentkit.yml: every problem at once, each with file, line and the key chain."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from agentkit.errors import BadConfig
from agentkit.hooks import config

MakeConfig = Callable[[str], config.Config]

FULL = """\
version: 1
release: /var/www/shop
shared:
  root: /mnt/efs/shop
  require_mount: nfs
  dirs: [media, var/log]
  files: [app/etc/env.php]
  mode: "2775"
permissions:
  - path: /var/www/shop
    owner: www-data
    file_mode: "0644"
    dir_mode: 0755
    exclude: [var/cache]
health:
  file: /var/www/shop/healthcheck.html
  drain: {interval: 10, unhealthy_threshold: 3}
validate:
  url: http://127.0.0.1/healthcheck.html
  status: [200, 204]
  body: OK
preflight:
  min_free: 500MB
  commands: [php]
events:
  ApplicationStop: [health down]
  AfterInstall: [link-shared, permissions]
  ValidateService: [validate, health up]
"""


def test_config_full_example_parses(make_config: MakeConfig) -> None:
    cfg = make_config(FULL)
    assert cfg.shared is not None and cfg.shared.mode == 0o2775
    assert cfg.shared.dirs == ("media", "var/log") and cfg.shared.link == "absolute"
    assert cfg.permissions[0].dir_mode == 0o755 and cfg.permissions[0].file_mode == 0o644
    assert cfg.health is not None and cfg.health.drain.seconds == 35
    assert cfg.validate is not None and cfg.validate.status == (200, 204)
    assert cfg.actions_for("AfterInstall") == ("link-shared", "permissions")
    assert cfg.actions_for("BeforeInstall") == ()
    assert config.parse_size(cfg.preflight.min_free, 0) == 500 << 20  # type: ignore[union-attr]
    assert config.parse_size("2x", 1000) == 2000


def test_config_reports_every_problem_with_lines(make_config: MakeConfig,
                                                 tmp_path: Path) -> None:
    with pytest.raises(BadConfig) as exc:
        make_config("""\
            version: 2
            release: relative/path
            shared:
              root: /mnt/efs
              on_conflict: move
              dirs: [media, media/images, ../etc]
            events:
              AfterInstal: [link-shared]
              ValidateService: [validate]
            """)
    path = tmp_path / "agentkit.yml"
    assert str(exc.value) == "\n".join([
        f"6 problems in {path}:",
        f"{path}:1: version: expected `version: 1`",
        f"{path}:2: release: expected an absolute path, got 'relative/path'",
        f"{path}:5: shared > on_conflict: expected one of backup, seed, fail, got 'move'",
        f"{path}:6: shared > dirs: expected relative paths without '..', got "
        "['media', 'media/images', '../etc']",
        f"{path}:8: events > AfterInstal: unknown key; expected one of BeforeBlockTraffic, "
        "AfterBlockTraffic, ApplicationStop, BeforeInstall, AfterInstall, ApplicationStart, "
        "ValidateService, BeforeAllowTraffic, AfterAllowTraffic",
        f"{path}:9: events > ValidateService: 'validate' needs a `validate` section",
    ])
    assert exc.value.exit_code == 2


def test_config_overlapping_shared_entries(make_config: MakeConfig) -> None:
    with pytest.raises(BadConfig) as exc:
        make_config("version: 1\nrelease: /r\nshared:\n  root: /s\n  dirs: [media, "
                    "media/images]\n")
    assert str(exc.value).endswith("shared: 'media' and 'media/images' overlap: a shared entry "
                                   "cannot hold another one")


def test_config_syntax_error_names_line(make_config: MakeConfig, tmp_path: Path) -> None:
    with pytest.raises(BadConfig) as exc:
        make_config("version: 1\nshared:\n\troot: /x\n")
    assert str(exc.value) == (f"{tmp_path}/agentkit.yml:3: YAML syntax: found character that "
                              "cannot start any token (while scanning for the next token)")


def test_config_find_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # three different files: --config wins over AGENTKIT_CONFIG, which wins over ./agentkit.yml
    for name in ("explicit.yml", "from-env.yml", "agentkit.yml"):
        (tmp_path / name).write_text("version: 1\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AGENTKIT_CONFIG", str(tmp_path / "from-env.yml"))
    assert config.find(str(tmp_path / "explicit.yml")) == str(tmp_path / "explicit.yml")
    assert config.find(None) == str(tmp_path / "from-env.yml")
    monkeypatch.setenv("AGENTKIT_CONFIG", "")  # set but empty: as if unset
    assert config.find(None) == str(tmp_path / "agentkit.yml")
    monkeypatch.delenv("AGENTKIT_CONFIG")
    assert config.find(None) == str(tmp_path / "agentkit.yml")  # made absolute
    (tmp_path / "agentkit.yml").unlink()
    with pytest.raises(BadConfig) as exc:
        config.find(None)
    assert str(exc.value) == ("no agentkit.yml: pass --config FILE or set AGENTKIT_CONFIG (the "
                              "hook shim passes the one next to appspec.yml).")


def test_config_find_names_a_missing_file_and_where_it_came_from(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "agentkit.yml").write_text("version: 1\n")  # never a silent fallback to it
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "nope.yml"
    monkeypatch.setenv("AGENTKIT_CONFIG", str(missing))
    for explicit, how in ((None, "AGENTKIT_CONFIG"), (str(missing), "--config")):
        with pytest.raises(BadConfig) as exc:
            config.find(explicit)
        assert str(exc.value) == (f"{missing}: no such file (from {how}). Point it at the "
                                  "bundle's agentkit.yml.")


def test_config_shipped_example_is_valid() -> None:
    root = Path(__file__).resolve().parents[2]
    cfg = config.load(str(root / "examples/webapp/agentkit.yml"))
    assert cfg.actions_for("ValidateService") == ("validate", "health up")


def test_config_missing_required_keys_are_named(make_config: MakeConfig,
                                                tmp_path: Path) -> None:
    with pytest.raises(BadConfig) as exc:
        make_config("""\
            version: 1
            release: /r
            shared:
              dirs: [media]
            permissions:
              - owner: www-data
              - path: relative
            health:
              content: OK
            """)
    path = tmp_path / "agentkit.yml"
    assert str(exc.value) == "\n".join([
        f"4 problems in {path}:",
        f"{path}:4: shared: `root` (the shared storage directory) is required",
        f"{path}:6: permissions[0]: `path` is required",
        f"{path}:7: permissions[1] > path: expected an absolute path, got 'relative'",
        f"{path}:9: health: `file` (the health-check file) is required",
    ])
