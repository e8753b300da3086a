"""The one exception family the CLI turns into a clean message and an exit status, and the
exit statuses themselves (the table `--help` shows, cli.EXIT_CODES).

Anything raised that is not a FatalError is a bug: the CLI writes a crash log and exits 3.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_PROBLEM = 1  # a problem found (a failing deployment, an error finding), or bad input
EXIT_USAGE = 2  # options that cannot be used, or an agentkit.yml that does not validate
EXIT_CRASH = 3  # a bug of agentkit's (a crash log is written)
EXIT_UNDETERMINED = 4  # verify: hooks could not run here as on an instance; nothing failed
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT); SIGTERM and SIGHUP give 128 + theirs


class FatalError(Exception):
    """A failure the user can fix; its message is the whole paragraph they see."""

    exit_code = EXIT_PROBLEM


class BadInput(FatalError):
    """A path or argument that cannot be used (missing file, unreadable directory...)."""


class BadArchive(FatalError):
    """A revision archive that cannot be read at all."""


class BadConfig(FatalError):
    """An agentkit.yml that does not validate (exit 2, as for usage errors)."""

    exit_code = EXIT_USAGE


class UsageError(FatalError):
    """Options that cannot go together, or a value argparse cannot judge alone (exit 2)."""

    exit_code = EXIT_USAGE


class MachineryFailed(FatalError):
    """verify's own machinery (its work directory's disk, a resource of this machine) failed:
    nothing is known of the deployment, so the exit status is undetermined's, never a
    failure of the deployment's."""

    exit_code = EXIT_UNDETERMINED


class HookFailed(FatalError):
    """A hook action that could not do its job (exit 1)."""


class Terminated(BaseException):
    """SIGTERM or SIGHUP (a CI job aborted): unwinds like Ctrl-C, so every process and file
    of the run is cleaned up on the way out (exit 128 + the signal)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
