"""The one exception family the CLI turns into a clean message and exit status 1.

Anything raised that is not a FatalError is a bug: the CLI writes a crash log and exits 3.
"""

from __future__ import annotations


class FatalError(Exception):
    """A failure the user can fix; its message is the whole paragraph they see."""

    exit_code = 1


class BadInput(FatalError):
    """A path or argument that cannot be used (missing file, unreadable directory...)."""


class BadArchive(FatalError):
    """A revision archive that cannot be read at all."""


class BadConfig(FatalError):
    """An agentkit.yml that does not validate (exit 2, as for usage errors)."""

    exit_code = 2


class UsageError(FatalError):
    """Options that cannot go together, or a value argparse cannot judge alone (exit 2)."""

    exit_code = 2


class HookFailed(FatalError):
    """A hook action that could not do its job (exit 1)."""


class Terminated(BaseException):
    """SIGTERM or SIGHUP (a CI job aborted): unwinds like Ctrl-C, so every process and file
    of the run is cleaned up on the way out (exit 128 + the signal)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
