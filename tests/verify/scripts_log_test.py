"""scripts_log: the deployment's scripts.log, read and written beneath its root only."""

from __future__ import annotations

import os
import re
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from agentkit.agent.layout import Deployment
from agentkit.verify import scripts_log

_STAMPED = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d LifecycleEvent - (\w+)\n$")


def _dep(tmp_path: Path) -> Deployment:
    dep = Deployment(str(tmp_path / "root"), "dg", "d-1")
    os.makedirs(os.path.dirname(dep.scripts_log))
    return dep


def test_whole_missing_log_is_empty(tmp_path: Path) -> None:
    assert scripts_log.whole(_dep(tmp_path)) == ""


def test_whole_small_log_is_all_of_it(tmp_path: Path) -> None:
    dep = _dep(tmp_path)
    Path(dep.scripts_log).write_bytes(b"one\ntwo \xff\n")
    assert scripts_log.whole(dep) == "one\ntwo \ufffd\n"


def test_whole_big_log_keeps_the_end_from_a_line_start(tmp_path: Path) -> None:
    dep = _dep(tmp_path)
    line = b"x" * 99 + b"\n"
    Path(dep.scripts_log).write_bytes(line * (scripts_log.LOG_KEPT // 100 + 10))
    size = len(line) * (scripts_log.LOG_KEPT // 100 + 10)
    kept = scripts_log.LOG_KEPT
    text = scripts_log.whole(dep)
    # the cut falls mid-line: that partial line goes too
    rest = (line * (kept // 100 + 1))[-kept:]
    assert text == (f"[... the first {size - kept} bytes of scripts.log are not shown]\n"
                    + rest[rest.find(b"\n") + 1:].decode())


def test_whole_through_a_link_out_of_the_root_is_not_read(tmp_path: Path) -> None:
    dep = _dep(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "scripts.log").write_text("secret\n")
    logs = os.path.dirname(dep.scripts_log)
    os.rmdir(logs)
    os.symlink(outside, logs)
    assert scripts_log.whole(dep) == "[scripts.log not read: a symlink on the way]\n"


def test_begin_event_writes_a_stamped_line_and_returns_its_end(tmp_path: Path) -> None:
    dep = _dep(tmp_path)
    Path(dep.scripts_log).write_text("before\n")
    end, note = scripts_log.begin_event(dep, "AfterInstall")
    text = Path(dep.scripts_log).read_text()
    assert (end, note) == (len(text), None)
    assert text.startswith("before\n")
    match = _STAMPED.match(text[len("before\n"):])
    assert match is not None and match.group(1) == "AfterInstall"


def test_begin_event_through_a_link_is_refused_with_a_note(tmp_path: Path) -> None:
    dep = _dep(tmp_path)
    target = tmp_path / "elsewhere.log"
    os.symlink(target, dep.scripts_log)
    assert scripts_log.begin_event(dep, "ApplicationStart") == (
        0, "scripts.log could not be written (a symlink): a hook "
           "removed or replaced it; verify does not follow links out of its root")
    assert not target.exists()


def test_since_is_what_came_after_the_offset(tmp_path: Path) -> None:
    dep = _dep(tmp_path)
    start, _ = scripts_log.begin_event(dep, "BeforeInstall")
    with open(dep.scripts_log, "a") as log:
        log.write("2026-01-01 00:00:00 [stdout]hello\n")
    assert scripts_log.since(dep, start) == "2026-01-01 00:00:00 [stdout]hello\n"


def test_since_missing_log_is_empty(tmp_path: Path) -> None:
    assert scripts_log.since(_dep(tmp_path), 0) == ""


def test_tail_1x_drops_timestamps_2x_keeps_them() -> None:
    log = "2026-01-01 10:00:00 [stdout]a\n2026-01-01 10:00:01 [stderr]b 2026-01-01 10:00:02 c\n"
    assert scripts_log.tail(log, "1") == "[stdout]a\n[stderr]b 2026-01-01 10:00:02 c\n"
    assert scripts_log.tail(log, "2") == log


@given(st.lists(st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\n"),
                        max_size=80), max_size=60))
def test_tail_is_the_last_2048_characters(lines: list[str]) -> None:
    log = "".join(f"2026-01-01 10:00:00 {line}\n" for line in lines)
    assert scripts_log.tail(log, "2") == log[-2048:]
    assert scripts_log.tail(log, "1") == "".join(f"{line}\n" for line in lines)[-2048:]


def test_tail_long_log_is_cut_to_its_last_2048_characters() -> None:
    log = "".join(f"[stdout]line {i}\n" for i in range(500))
    assert scripts_log.tail(log, "2") == log[len(log) - 2048:]
    assert len(scripts_log.tail(log, "2")) == 2048
