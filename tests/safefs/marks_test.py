"""marks: an extended attribute only root (or the runas user) can set, on what an action made."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentkit.safefs import marks

NAME = "trusted.agentkit" if os.geteuid() == 0 else "user.agentkit"


@pytest.fixture
def dir_fd(tmp_path: Path) -> Iterator[int]:
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.getxattr(fd, NAME)
    except OSError as exc:
        if exc.errno == errno.EOPNOTSUPP:
            os.close(fd)
            pytest.skip(f"{tmp_path}'s file system takes no {NAME.split('.')[0]}. attribute")
    yield fd
    os.close(fd)


def test_mark_then_marked(dir_fd: int) -> None:
    assert marks.marked(dir_fd) is False
    assert marks.mark(dir_fd) is True
    assert (marks.marked(dir_fd), os.getxattr(dir_fd, NAME)) == (True, b"agentkit")


def test_marked_other_value_is_not_the_mark(dir_fd: int) -> None:
    os.setxattr(dir_fd, NAME, b"agentkit-forged")
    assert marks.marked(dir_fd) is False


def test_mark_where_no_attribute_is_taken_is_false() -> None:
    fd = os.open("/proc/self/status", os.O_RDONLY)  # procfs takes no extended attributes
    try:
        assert (marks.mark(fd), marks.marked(fd)) == (False, False)
    finally:
        os.close(fd)
