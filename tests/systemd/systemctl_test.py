"""The box's systemctl refuses a command line as systemd's does, before any unit is read."""

from __future__ import annotations

import pytest

from agentkit.systemd import systemctl


@pytest.mark.parametrize(("argv", "said"), [
    (["app.service", "start"], "Unknown command verb app.service."),  # verb and unit swapped
    (["nginx", "restart"], "Unknown command verb nginx."),
    (["starts", "nginx"], "Unknown command verb starts."),
    (["is-inactive", "nginx"], "Unknown command verb is-inactive."),
    (["start"], "Too few arguments."),
    (["is-active"], "Too few arguments."),
    (["daemon-reload", "nginx"], "Too many arguments."),
    (["isolate", "a.target", "b.target"], "Too many arguments."),
    (["--no-block", "-q", "bogus"], "Unknown command verb bogus."),
])
def test_systemctl_refuses_what_systemd_refuses(argv: list[str], said: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert systemctl.systemctl(argv) == 1
    assert capsys.readouterr() == ("", f"{said}\n")


def test_systemctl_verb_table_has_every_modelled_verb() -> None:
    # a verb the box models but systemd lacks would be accepted in the box and refused on
    # the instance: the table is systemd's, the modelled verbs must all be in it
    modelled = {*systemctl.CHANGING, *systemctl.QUERIES, *systemctl.NO_OPS}
    assert modelled - set(systemctl.VERBS) == set()


def test_systemctl_no_op_and_unmodelled_verbs_succeed(capsys: pytest.CaptureFixture[str]) -> None:
    assert systemctl.systemctl(["daemon-reload"]) == 0
    assert systemctl.systemctl(["list-units"]) == 0
    assert capsys.readouterr() == ("", "")
