"""One hook script run as the agent runs it: real processes, groups, users and timeouts."""

from __future__ import annotations

import io
import os
import pwd
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from agentkit.agent import runner
from agentkit.agent.runner import Job

from ..conftest import requires_root

ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LIFECYCLE_EVENT": "AfterInstall",
       "DEPLOYMENT_ID": "d-TEST00001"}
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (.*)$")


def _script(tmp: Path, body: bytes | str, name: str = "s.sh", mode: int = 0o755) -> Path:
    path = tmp / "archive" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body.encode() if isinstance(body, str) else body)
    os.chmod(path, mode)
    return path


def _run(tmp: Path, timeout: int = 5, runas: str | None = None, generation: str = "1",
         name: str = "s.sh", grace: float = 0.5) -> tuple[runner.ScriptRun, list[str]]:
    log = io.StringIO()
    job = Job("AfterInstall", str(tmp / "archive"), name, timeout, runas, False, dict(ENV),
              generation)
    result = runner.run(job, log, grace=grace)
    lines = []
    for raw in log.getvalue().splitlines():
        m = LOG_LINE.match(raw)
        assert m, raw
        lines.append(m.group(1))
    return result, lines


def test_runner_success_logs_output_like_the_agent(tmp_path: Path) -> None:
    _script(tmp_path, "#!/bin/sh\necho out\necho err >&2\nprintf 'no newline'\n"
                      "echo \"$LIFECYCLE_EVENT $DEPLOYMENT_ID\"\n")
    result, lines = _run(tmp_path)
    assert (result.error_code, result.exit_code, result.message) == ("SUCCEEDED", 0, "")
    assert lines[0] == "Script - s.sh"
    assert sorted(lines[1:]) == sorted(["[stdout]out", "[stderr]err",
                                        "[stdout]no newlineAfterInstall d-TEST00001"])


def test_runner_nonzero_exit_message(tmp_path: Path) -> None:
    _script(tmp_path, "#!/bin/sh\nexit 3\n")
    result, _ = _run(tmp_path)
    assert (result.error_code, result.message) == (
        "SCRIPT_FAILED", "Script at specified location: s.sh failed with exit code 3")


def test_runner_missing_script(tmp_path: Path) -> None:
    (tmp_path / "archive").mkdir()
    result, lines = _run(tmp_path, name="gone.sh")
    assert (result.error_code, result.message) == (
        "SCRIPT_MISSING",
        f"Script does not exist at specified location: {tmp_path}/archive/gone.sh")
    assert lines == []


def test_runner_makes_script_executable_itself(tmp_path: Path) -> None:
    path = _script(tmp_path, "#!/bin/sh\necho hi\n", mode=0o644)
    result, lines = _run(tmp_path)
    assert result.error_code == "SUCCEEDED"
    assert lines[0] == "Script - s.sh"  # the agent says it chmods in its own log only
    assert os.stat(path).st_mode & 0o111 == 0o111


def test_runner_no_shebang_differs_by_agent(tmp_path: Path) -> None:
    _script(tmp_path, "echo from-sh\n")
    result1, lines = _run(tmp_path)
    assert result1.error_code == "SUCCEEDED" and "[stdout]from-sh" in lines
    result2, _ = _run(tmp_path, generation="2")
    assert (result2.error_code, result2.message) == ("SCRIPT_FAILED",
                                                     "Exec format error (os error 8)")


def test_runner_crlf_shebang_fails_with_enoent(tmp_path: Path) -> None:
    _script(tmp_path, b"#!/bin/sh\r\necho hi\r\n")
    result, _ = _run(tmp_path)
    assert (result.error_code, result.message) == (
        "SCRIPT_FAILED", f"Script at specified location: s.sh failed with error Errno::ENOENT "
                         f"with message No such file or directory - {tmp_path}/archive/s.sh")


def _gone(marker: str) -> bool:
    return all(p.info["cmdline"] != ["sleep", marker] for p in psutil.process_iter(["cmdline"]))


def test_runner_timeout_kills_the_group_and_grandchildren(tmp_path: Path) -> None:
    marker = f"{60 + os.getpid() % 997 / 1000:.3f}"  # a sleep nobody else runs
    _script(tmp_path, f"#!/bin/sh\ntrap '' TERM\nsleep {marker} &\n"
                      f"setsid sleep {marker} &\nsleep {marker}\n")
    start = time.monotonic()
    result, lines = _run(tmp_path, timeout=1, grace=0.3)
    assert time.monotonic() - start < 5
    assert (result.error_code, result.message) == (
        "SCRIPT_TIMED_OUT", "Script at specified location: s.sh failed to complete in 1 seconds")
    assert lines == ["Script - s.sh"]  # "timed out" goes to the agent's own log only
    time.sleep(0.2)
    assert _gone(marker)


def test_runner_daemon_keeping_stdout_open(tmp_path: Path) -> None:
    marker = f"{70 + os.getpid() % 997 / 1000:.3f}"
    _script(tmp_path, f"#!/bin/sh\nsleep {marker} &\necho started\n")
    result, _ = _run(tmp_path, timeout=1, grace=0.3)
    assert (result.error_code, result.exit_code, result.message) == (
        "OUTPUTS_LEFT_OPEN", 0, "Script at specified location: s.sh failed to close STDOUT")
    time.sleep(0.2)
    assert _gone(marker)


def test_runner_daemon_with_redirected_output_succeeds(tmp_path: Path) -> None:
    _script(tmp_path, "#!/bin/sh\nsleep 2 >/dev/null 2>&1 &\n")
    result, _ = _run(tmp_path, timeout=5)
    assert result.error_code == "SUCCEEDED"


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory other users can traverse (pytest's own tmp tree is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="agentkit-runas-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path)


@requires_root
def test_runner_runas_uses_su(open_dir: Path, runas_users: tuple[str, str]) -> None:
    tmp_path = open_dir
    _script(tmp_path, "#!/bin/sh\nid -un\n")
    os.chmod(tmp_path / "archive", 0o755)
    result, lines = _run(tmp_path, runas=runas_users[0])
    assert result.error_code == "SUCCEEDED", lines
    assert f"[stdout]{runas_users[0]}" in lines


@requires_root
def test_runner_runas_nologin_fails_like_an_instance(open_dir: Path,
                                                     runas_users: tuple[str, str]) -> None:
    tmp_path = open_dir
    _script(tmp_path, "#!/bin/sh\nid -un\n")
    os.chmod(tmp_path / "archive", 0o755)
    result, lines = _run(tmp_path, runas=runas_users[1])
    assert result.message == (f"Script at specified location: s.sh run as user {runas_users[1]} "
                              "failed with exit code 1")
    assert "[stdout]This account is currently not available." in lines


@pytest.mark.parametrize("body", [
    "#!/bin/sh\nsleep 30 &\necho started\n",  # exits, a child holds stdout: OUTPUTS_LEFT_OPEN
    "#!/bin/sh\ntrap '' TERM\nsleep 30\n",  # times out
])
def test_runner_reap_holds_the_scripts_pid_until_its_family_is_killed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> None:
    # reap() once ran after the script had been reaped: in a box's pid namespace its pid
    # (and group id) went at once to the next process, a service the box had started, and
    # the SIGKILLs meant for the script's family reached it
    held = []
    real = runner.reap

    def checked(proc: Any, grace: float = runner.GRACE) -> None:
        zombie_or_alive = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT | os.WNOHANG)
        held.append(proc.pid)  # ChildProcessError above: it was reaped already
        del zombie_or_alive
        real(proc, grace)
        with pytest.raises(ChildProcessError):  # reaped now, by reap itself
            os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG)

    monkeypatch.setattr(runner, "reap", checked)
    _script(tmp_path, body)
    result, _ = _run(tmp_path, timeout=1, grace=0.3)
    assert result.error_code in ("OUTPUTS_LEFT_OPEN", "SCRIPT_TIMED_OUT")
    assert len(held) == 1


def _in_a_namespace_without_setgroups(step: Any) -> Any:
    """step() in a forked child that is root of a user namespace of its own whose map its
    owner wrote without privilege (setgroups denied): the box of a caller that has no
    subordinate id range. Its result comes back through a pipe."""
    import pickle

    from agentkit.box import syscalls as sc

    read_end, write_end = os.pipe()
    uid, gid = os.geteuid(), os.getegid()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read_end)
        try:
            sc.unshare(sc.CLONE_NEWUSER)
            for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1\n"),
                               ("gid_map", f"0 {gid} 1\n")):
                with open(f"/proc/self/{name}", "w") as f:
                    f.write(text)
            data = pickle.dumps((True, step()))
        except BaseException as exc:  # every failure goes back to the test
            data = pickle.dumps((False, f"{type(exc).__name__}: {exc}"))
        with os.fdopen(write_end, "wb") as out:
            out.write(data)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as inp:
        data = inp.read()
    os.waitpid(pid, 0)
    ok, value = pickle.loads(data)
    assert ok, value
    return value


def test_runner_runas_root_where_su_cannot_set_groups_runs_as_su_would(tmp_path: Path) -> None:
    # issue 29: `su root -c` fails in such a box (su: cannot set groups) where the instance's
    # su succeeds; the box is root already, so it runs root's shell -c PATH as su would
    _script(tmp_path, "#!/bin/sh\nid -u\necho \"$HOME $SHELL $LIFECYCLE_EVENT\"\n")
    root = pwd.getpwnam("root")
    result, lines = _in_a_namespace_without_setgroups(lambda: _run(tmp_path, runas="root"))
    assert (result.error_code, result.exit_code, result.message) == ("SUCCEEDED", 0, ""), lines
    assert lines == ["Script - s.sh", "[stdout]0",
                     f"[stdout]{root.pw_dir} {root.pw_shell} AfterInstall"]


def test_runner_runas_another_user_where_su_cannot_set_groups_is_left_to_su(
        tmp_path: Path) -> None:
    # only the user the box already is can be modelled; for another one su runs and fails
    # (verify says undetermined before it gets here: lifecycle's cannot_show)
    _script(tmp_path, "#!/bin/sh\nid -u\n")
    other = next(p.pw_name for p in pwd.getpwall() if p.pw_uid not in (0, os.geteuid()))
    result, lines = _in_a_namespace_without_setgroups(lambda: _run(tmp_path, runas=other))
    assert result.error_code == "SCRIPT_FAILED"
    assert result.message == (f"Script at specified location: s.sh run as user {other} "
                              f"failed with exit code {result.exit_code}")
    assert "[stdout]0" not in lines
