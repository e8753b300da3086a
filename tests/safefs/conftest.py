from __future__ import annotations

from collections.abc import Iterator

import pytest

from agentkit.safefs import syscalls


@pytest.fixture(params=["openat2", "component by component"])
def kernel(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each test twice: with this kernel's openat2/fchmodat2, and as a kernel before 5.6
    (6.6) that lacks them, where safefs goes component by component (and through
    /proc/self/fd)."""
    before = set(syscalls._missing)
    if request.param != "openat2":
        syscalls._missing.update({"openat2", "fchmodat2"})
    yield str(request.param)
    syscalls._missing.clear()
    syscalls._missing.update(before)
