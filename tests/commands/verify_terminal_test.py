"""verify and lint on a real terminal (a pty): colour in the text report unless NO_COLOR,
and a progress line on stderr while verify works, erased before the report; nothing of either
when piped or in JSON."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentkit.verify import hookbox

from ..archives import appspec, script, tar

needs_box = pytest.mark.skipif(hookbox.unavailable() is not None,
                               reason=f"no hook sandbox here: {hookbox.unavailable()}")


def _bundle(tmp: Path, body: str) -> Path:
    return tar(tmp / "b.tgz", [
        ("appspec.yml", "file", appspec(tmp / "d", "  AfterInstall:\n    - location: s.sh\n"
                                        "      timeout: 60\n"), 0o644),
        ("s.sh", "file", script(body), 0o755)])


def _read_all(fd: int, proc: subprocess.Popen[bytes]) -> bytes:
    """Everything written to the pty's far side until the process ends."""
    out = b""
    while True:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the other side is closed
                chunk = b""
            if not chunk and proc.poll() is not None:
                return out
            out += chunk
        elif proc.poll() is not None:
            return out


def _run(args: list[str], tty: str, env: dict[str, str]) -> tuple[int, bytes, bytes]:
    """verify with stdout or stderr (`tty`) on a pty, the other on a pipe."""
    far, near = pty.openpty()
    streams = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, tty: near}
    proc = subprocess.Popen([sys.executable, "-m", "agentkit", "verify", *args],
                            env={**os.environ, "TERM": "xterm", **env}, **streams)
    os.close(near)
    piped = proc.stderr if tty == "stdout" else proc.stdout
    assert piped is not None
    on_tty = _read_all(far, proc)
    os.close(far)
    other = piped.read()
    return proc.wait(), on_tty, other


def test_verify_terminal_text_report_in_colour(tmp_path: Path) -> None:
    arc = _bundle(tmp_path, "exit 3\n")
    code, out, _err = _run(["--hooks", "skip", str(arc)], "stdout", {"NO_COLOR": ""})
    assert code == 0
    assert b"\x1b[32mThe deployment would succeed.\x1b[0m" in out
    assert b"  DownloadBundle       \x1b[32msucceeded\x1b[0m" in out
    assert b"  AfterInstall         \x1b[2mskipped  \x1b[0m" in out


def test_verify_terminal_no_color_is_plain(tmp_path: Path) -> None:
    arc = _bundle(tmp_path, "exit 3\n")
    code, out, _err = _run(["--hooks", "skip", str(arc)], "stdout", {"NO_COLOR": "1"})
    assert code == 0
    assert b"\x1b[" not in out
    assert b"The deployment would succeed.\r\n" in out  # the pty turns \n into \r\n


def test_verify_piped_report_has_no_colour(tmp_path: Path) -> None:
    arc = _bundle(tmp_path, "exit 3\n")
    done = subprocess.run([sys.executable, "-m", "agentkit", "verify", "--hooks", "skip",
                           str(arc)], capture_output=True, check=False,
                          env={**os.environ, "TERM": "xterm", "NO_COLOR": ""})
    assert done.returncode == 0
    assert b"\x1b" not in done.stdout + done.stderr


@needs_box
def test_verify_terminal_progress_on_stderr_only(tmp_path: Path) -> None:
    arc = _bundle(tmp_path, "sleep 1.2\necho slept\n")
    start = time.monotonic()
    code, err, out = _run([str(arc)], "stderr", {})
    assert code == 0, err
    assert time.monotonic() - start >= 1.2
    assert b"\r\x1b[KAfterInstall: s.sh  1 s / 60 s" in err  # redrawn while the hook runs
    assert b"DownloadBundle: reading b.tgz" in err
    assert err.endswith(b"\r\x1b[K")  # erased before the report
    assert b"\x1b" not in out and b"The deployment would succeed." in out


@needs_box
@pytest.mark.parametrize("fmt", ["json", "text"])
def test_verify_no_progress_when_not_wanted(tmp_path: Path, fmt: str) -> None:
    # JSON on a terminal: no progress; text with stderr piped: none either
    arc = _bundle(tmp_path, "sleep 0.6\n")
    if fmt == "json":
        code, err, _out = _run(["--format", "json", str(arc)], "stderr", {})
    else:
        done = subprocess.run([sys.executable, "-m", "agentkit", "verify", str(arc)],
                              capture_output=True, check=False)
        code, err = done.returncode, done.stderr
    assert (code, err) == (0, b"")


def test_lint_terminal_severity_in_colour(tmp_path: Path) -> None:
    (tmp_path / "appspec.yml").write_text("version: 0.0\nos: linux\nextra: 1\n")
    far, near = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "agentkit", "lint",
                             str(tmp_path / "appspec.yml")], stdout=near,
                            env={**os.environ, "TERM": "xterm", "NO_COLOR": ""})
    os.close(near)
    out = _read_all(far, proc)
    os.close(far)
    assert proc.wait() == 0
    line = (f"{tmp_path}/appspec.yml:3:1: \x1b[33mwarning\x1b[0m AK204: extra: `extra` is "
            "not read by the agent")
    assert line.encode() in out
