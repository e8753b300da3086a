"""events: the lifecycle names, a typo's likely meaning, and codedeploy-local's order rules."""

from __future__ import annotations

import pytest

from agentkit import events


@pytest.mark.parametrize("name, meant", [
    ("after install", "AfterInstall"), ("after_install", "AfterInstall"),
    ("APPLICATION-START", "ApplicationStart"), ("AfterInstal", "AfterInstall"),
    ("BeforInstal", "BeforeInstall"),
    ("ValidateServices", "ValidateService"), ("Install", None), ("Deploy", None),
    ("DownloadBundle", None)])
def test_suggest_scripted_event_or_none(name: str, meant: str | None) -> None:
    assert events.suggest(name) == meant


# cli_validator.rb (lib/aws/codedeploy/local): the two messages, in its words
_BEFORE_DOWNLOAD = ("The only events that can be specified before DownloadBundle are "
                    "BeforeBlockTraffic,AfterBlockTraffic,ApplicationStop. Please fix the "
                    "order of your specified events: {}")
_BEFORE_INSTALL = ("The only events that can be specified before Install are "
                   "BeforeBlockTraffic,AfterBlockTraffic,ApplicationStop,DownloadBundle,"
                   "BeforeInstall. Please fix the order of your specified events: {}")


@pytest.mark.parametrize("names, error", [
    ((), None), (("AfterInstall",), None),
    (("ApplicationStop", "DownloadBundle", "BeforeInstall", "Install", "AfterInstall"), None),
    (("AfterInstall", "DownloadBundle"), _BEFORE_DOWNLOAD),
    (("Install", "DownloadBundle"), _BEFORE_DOWNLOAD),
    (("BeforeInstall", "DownloadBundle"), None),
    (("ApplicationStart", "Install"), _BEFORE_INSTALL),
    (("BeforeInstall", "Install", "ValidateService"), None)])
def test_check_order_as_codedeploy_local(names: tuple[str, ...], error: str | None) -> None:
    assert events.check_order(names) == (None if error is None else
                                         error.format(",".join(names)))


def test_event_groups_partition_the_lifecycle() -> None:
    assert events.SCRIPTED + events.AGENT_INTERNAL != events.ORDERED  # interleaved, not split
    assert sorted(events.SCRIPTED + events.AGENT_INTERNAL) == sorted(events.ORDERED)
    assert set(events.TRAFFIC) | set(events.FROM_PREVIOUS) <= set(events.SCRIPTED)
