"""The subprocess wrapper's streaming pieces, with real child processes."""

from __future__ import annotations

import errno
import os
import sys
import tempfile
import time
from pathlib import Path

import pytest

from agentkit import proc


def test_stdin_sink_delivers_every_part_in_order(tmp_path: Path) -> None:
    out = tmp_path / "out"
    chunks = [os.urandom(n) for n in (1, 511, 70_000, 3, 2 << 20)] * 40  # ~80 MB, 200 parts
    with tempfile.TemporaryFile() as err, \
            proc.stdin_sink(["sh", "-c", f"cat > {out}"], err) as write:
        for i in range(0, len(chunks), 7):
            write([memoryview(c) for c in chunks[i:i + 7]])
    assert out.read_bytes() == b"".join(chunks)


def test_stdin_sink_child_failure_is_child_process_error() -> None:
    with tempfile.TemporaryFile() as err:
        with pytest.raises(ChildProcessError) as exc, \
                proc.stdin_sink(["sh", "-c", "cat >/dev/null; echo no >&2; exit 3"],
                                err) as write:
            write([memoryview(b"data")])
        err.seek(0)
        assert (exc.value.args, err.read()) == ((3,), b"no\n")


def test_run_captures_text_and_never_raises_for_the_exit() -> None:
    done = proc.run(["sh", "-c", "read x || echo no-stdin; echo out; echo err >&2; exit 7"],
                    env={"PATH": "/usr/bin:/bin"})
    assert (done.returncode, done.stdout, done.stderr) == (7, "no-stdin\nout\n", "err\n")


def test_run_env_is_the_whole_environment(tmp_path: Path) -> None:
    done = proc.run(["/usr/bin/env"], env={"ONLY": "this"}, cwd=str(tmp_path))
    assert done.stdout == "ONLY=this\n"


def test_run_past_its_timeout_is_timed_out_and_killed(tmp_path: Path) -> None:
    start = time.monotonic()
    marker = tmp_path / "finished"
    with pytest.raises(proc.TimedOut) as exc:
        proc.run(["sh", "-c", f"sleep 3; touch {marker}"], timeout=0.2)
    assert time.monotonic() - start < 2.5
    assert (exc.value.errno, str(exc.value), exc.value.timeout) == (
        errno.ETIMEDOUT, f"[Errno {errno.ETIMEDOUT}] `sh -c sleep 3; touch {marker}` did not "
        "finish in 0.2 s", 0.2)
    time.sleep(3.2)
    assert not marker.exists()  # killed, not left running


_SESSION = ("import os, sys; print(os.getsid(0) == os.getpid(), os.getpgid(0) == os.getpid(), "
            "sys.stdin.read() == '', sorted(os.environ))")


def test_spawn_group_has_its_own_session_no_stdin_and_the_env_given() -> None:
    # (no locale coercion: Python would add LC_CTYPE to its own environment)
    child = proc.spawn_group([sys.executable, "-c", _SESSION],
                             {"A": "1", "PYTHONCOERCECLOCALE": "0"})
    out, err = child.communicate(timeout=30)
    assert (child.returncode, out, err) == (
        0, b"True True True ['A', 'PYTHONCOERCECLOCALE']\n", b"")


def test_spawn_passing_passes_that_descriptor_and_no_other(tmp_path: Path) -> None:
    r, w = os.pipe()
    other_r, other_w = os.pipe()
    script = ("import os, sys; fd = int(sys.argv[1]); os.write(fd, b'over fd'); "
              "print(os.getsid(0) == os.getpid());"
              "import errno\ntry:\n    os.fstat(int(sys.argv[2]))\n"
              "except OSError as e:\n    print(e.errno == errno.EBADF)")
    try:
        with open(tmp_path / "out", "wb") as output:
            child = proc.spawn_passing([sys.executable, "-c", script, str(w), str(other_w)],
                                       w, output, {})
            assert proc.wait(child, 30) == 0
        os.close(w)
        assert os.read(r, 100) == b"over fd"
        assert (tmp_path / "out").read_text() == "True\nTrue\n"
    finally:
        for fd in (r, other_r, other_w):
            os.close(fd)


def test_wait_is_none_until_the_program_exits() -> None:
    child = proc.spawn_group(["sh", "-c", "sleep 0.5; exit 4"], {"PATH": "/usr/bin:/bin"})
    assert proc.wait(child, 0.05) is None
    assert proc.wait(child, 30) == 4
