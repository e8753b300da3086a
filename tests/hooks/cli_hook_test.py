"""`agentkit hook ...` as the agent runs it: a real process, LIFECYCLE_EVENT, exit codes, logs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from agentkit import proc


def _config(tmp: Path, extra: str = "") -> Path:
    (tmp / "release").mkdir(exist_ok=True)
    path = tmp / "agentkit.yml"
    path.write_text(f"version: 1\nrelease: {tmp}/release\nshared:\n  root: {tmp}/shared\n"
                    f"  dirs: [media]\nhealth:\n  file: {tmp}/release/health.html\n"
                    f"  drain: {{interval: 0}}\nevents:\n  AfterInstall: [link-shared]\n"
                    f"  ValidateService: [health up]\nlog:\n  file: {tmp}/log/hooks.log\n"
                    + extra)
    return path


def _hook(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k != "LIFECYCLE_EVENT"}
    clean.update(env)
    return proc.run([sys.executable, "-m", "agentkit", "hook", *args], env=clean)


def test_hook_run_does_what_the_event_asks(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    done = _hook("run", "--config", str(cfg), LIFECYCLE_EVENT="AfterInstall",
                 DEPLOYMENT_ID="d-ABCDEFGHI", DEPLOYMENT_GROUP_NAME="web")
    assert done.returncode == 0, done.stderr
    assert os.path.islink(tmp_path / "release/media")
    assert not (tmp_path / "release/health.html").exists()
    assert "link" in done.stdout and "Traceback" not in done.stdout + done.stderr
    records = [json.loads(line) for line in (tmp_path / "log/hooks.log").read_text().splitlines()]
    assert records and all(r["lifecycle_event"] == "AfterInstall" and
                           r["deployment_id"] == "d-ABCDEFGHI" and
                           r["deployment_group_name"] == "web" for r in records)


def test_hook_run_event_without_actions_is_a_no_op(tmp_path: Path) -> None:
    done = _hook("run", "--config", str(_config(tmp_path)), LIFECYCLE_EVENT="BeforeInstall")
    assert done.returncode == 0
    assert "nothing to do for this event" in done.stdout


def test_hook_run_without_lifecycle_event_exits_2(tmp_path: Path) -> None:
    done = _hook("run", "--config", str(_config(tmp_path)))
    assert done.returncode == 2
    assert done.stderr.startswith("agentkit: error: agentkit hook run: LIFECYCLE_EVENT is not "
                                  "set; the CodeDeploy agent sets it.")


def test_hook_bad_config_exits_2_without_traceback(tmp_path: Path) -> None:
    cfg = tmp_path / "agentkit.yml"
    cfg.write_text("version: 1\nhealth:\n  file: relative.html\n")
    done = _hook("health", "up", "--config", str(cfg))
    assert done.returncode == 2
    assert done.stderr == (f"agentkit: error: {cfg}:3: health > file: expected an absolute "
                           "path, got 'relative.html'\n")


def test_hook_failure_exits_1_with_one_paragraph(tmp_path: Path) -> None:
    cfg = _config(tmp_path, "")
    (tmp_path / "release/media").mkdir()
    cfg.write_text(cfg.read_text().replace("  dirs: [media]\n",
                                           "  dirs: [media]\n  on_conflict: fail\n"))
    done = _hook("link-shared", "--config", str(cfg))
    assert done.returncode == 1
    assert done.stderr.startswith(f"agentkit: error: {tmp_path}/release/media is a real "
                                  "directory (it came in the archive)")
    assert "Traceback" not in done.stderr


def test_hook_dry_run_changes_nothing(tmp_path: Path) -> None:
    done = _hook("link-shared", "--dry-run", "--config", str(_config(tmp_path)))
    assert done.returncode == 0
    assert not (tmp_path / "shared").exists()
    assert "dry_run=True" in done.stdout


def test_hook_unwritable_log_falls_back_to_stdout(tmp_path: Path) -> None:
    (tmp_path / "log").write_text("a file where the log directory should be")
    done = _hook("health", "up", "--config", str(_config(tmp_path)))
    assert done.returncode == 0
    assert done.stderr == (f"agentkit: warning: cannot write the hook log {tmp_path}/log/hooks.log "
                           "(a regular file stands where a directory was expected); logging to "
                           "stdout only\n")
    # the action's own line still reaches stdout (the agent copies it to scripts.log)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z \[info     \] health up +"
                        f"dry_run=False file={re.escape(str(tmp_path))}/release/health.html\n",
                        done.stdout), done.stdout
    assert (tmp_path / "release/health.html").read_text() == "OK\n"
    assert (tmp_path / "log").read_text() == "a file where the log directory should be"


def test_hook_health_down_prints_progress_every_5_seconds(tmp_path: Path) -> None:
    # interval 2.5 x 2 + 1 = 6 s of drain: a line at 5 s, the last at 6 s, then "drained"
    cfg = _config(tmp_path)
    cfg.write_text(cfg.read_text().replace(
        "drain: {interval: 0}", "drain: {interval: 2.5, unhealthy_threshold: 2, timeout: 1}"))
    (tmp_path / "release/health.html").write_text("OK\n")
    start = time.monotonic()
    done = _hook("health", "down", "--config", str(cfg))
    took = time.monotonic() - start
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert not (tmp_path / "release/health.html").exists()
    assert 6.0 <= took < 10
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z "
    lines = done.stdout.splitlines()
    assert [re.sub(f"^{stamp}", "", line) for line in lines] == [
        f"[info     ] health down                    dry_run=False existed=True "
        f"file={tmp_path}/release/health.html",
        "[info     ] waiting for the load balancer to mark this target unhealthy interval=2.5 "
        "seconds=6.0 unhealthy_threshold=2",
        f"[info     ] draining                       seconds_left={_left(lines[2])}",
        "[info     ] draining                       seconds_left=0.0",
        "[info     ] drained"], done.stdout
    records = [json.loads(line) for line in (tmp_path / "log/hooks.log").read_text().splitlines()]
    assert [r["event"] for r in records] == [
        "health down", "waiting for the load balancer to mark this target unhealthy",
        "draining", "draining", "drained"]
    assert abs(records[2]["seconds_left"] - 1.0) <= 0.2
    assert records[3]["seconds_left"] == 0.0
    at = [datetime.fromisoformat(r["timestamp"].rstrip("Z")) for r in records]
    assert abs((at[2] - at[1]).total_seconds() - 5.0) < 0.5  # the first line after 5 s
    assert abs((at[3] - at[1]).total_seconds() - 6.0) < 0.5


def _left(line: str) -> str:
    """The seconds_left a progress line shows (close to the plan: checked in the log file)."""
    return line.rsplit("seconds_left=", 1)[-1]


def test_shim_finds_config_next_to_appspec(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    (bundle / "scripts").mkdir(parents=True)
    shim = Path(__file__).resolve().parents[2] / "hooks" / "agentkit-hook.sh"
    (bundle / "scripts/agentkit-hook.sh").write_bytes(shim.read_bytes())
    os.chmod(bundle / "scripts/agentkit-hook.sh", 0o755)
    (bundle / "appspec.yml").write_text("version: 0.0\nos: linux\n")
    (bundle / "agentkit.yml").write_text(_config(tmp_path).read_text())
    env = {k: v for k, v in os.environ.items() if k not in ("LIFECYCLE_EVENT", "AGENTKIT")}
    env.update(LIFECYCLE_EVENT="ValidateService",
               AGENTKIT=str(Path(sys.executable).parent / "agentkit"))
    done = proc.run([str(bundle / "scripts/agentkit-hook.sh")], env=env, cwd="/")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "release/health.html").read_text() == "OK\n"


def test_validate_deadline_must_fit_the_hook_timeout(tmp_path: Path) -> None:
    cfg = _config(tmp_path, "validate:\n  url: http://127.0.0.1:9/\n  deadline: 120\n")
    cfg.write_text(cfg.read_text().replace("ValidateService: [health up]",
                                           "ValidateService: [validate, health up]"))
    (tmp_path / "appspec.yml").write_text(
        "version: 0.0\nos: linux\nhooks:\n  ValidateService:\n    - location: h.sh\n"
        "      timeout: 60\n")
    done = _hook("run", "--config", str(cfg), LIFECYCLE_EVENT="ValidateService")
    assert done.returncode == 2
    assert done.stderr == (
        f"agentkit: error: {cfg}: validate.deadline (120 s) plus one try (5 s) does not fit in "
        "the ValidateService hook's timeout (60 s in appspec.yml): the agent would kill validate "
        "before it reports. Lower the deadline or raise the hook's timeout.\n")


def test_example_bundle_ships_the_shim_unchanged() -> None:
    root = Path(__file__).resolve().parents[2]
    assert (root / "examples/webapp/scripts/agentkit-hook.sh").read_bytes() == \
        (root / "hooks/agentkit-hook.sh").read_bytes()


def test_hook_closed_stdout_still_completes_the_action(tmp_path: Path) -> None:
    # `agentkit hook ... | head -0`: the reader is gone before the first line is written
    cfg = _config(tmp_path)
    clean = {k: v for k, v in os.environ.items() if k != "LIFECYCLE_EVENT"}
    child = subprocess.Popen([sys.executable, "-m", "agentkit", "hook", "run", "--config",
                              str(cfg)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env={**clean, "LIFECYCLE_EVENT": "AfterInstall"})
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()
    err = child.stderr.read().decode()
    assert child.wait(timeout=30) == 0, err
    assert err == ("agentkit: stdout was closed; the rest of this action's lines go only to "
                   f"the hook log {tmp_path}/log/hooks.log\n")
    assert os.path.islink(tmp_path / "release/media")
    events = [json.loads(line)["event"]
              for line in (tmp_path / "log/hooks.log").read_text().splitlines()]
    assert "link" in events
