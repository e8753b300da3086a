"""event_plan: the events a deployment runs, in order, as the agent and service run them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentkit.agent.event_plan import IN_PLACE, ORIGINAL, REPLACEMENT, event_names, modelled

ALL = ["BeforeBlockTraffic", "AfterBlockTraffic", "ApplicationStop", "DownloadBundle",
       "BeforeInstall", "Install", "AfterInstall", "ApplicationStart", "ValidateService",
       "BeforeAllowTraffic", "AfterAllowTraffic"]
TRAFFIC = {"BeforeBlockTraffic", "AfterBlockTraffic", "BeforeAllowTraffic", "AfterAllowTraffic"}


def test_event_names_with_load_balancer_is_every_event() -> None:
    assert event_names(True) == ALL


def test_event_names_without_load_balancer_skips_the_traffic_hooks() -> None:
    assert event_names(False) == [n for n in ALL if n not in TRAFFIC]


def test_event_names_blue_green_instances() -> None:
    assert event_names(True, deployment=ORIGINAL) == ["BeforeBlockTraffic", "AfterBlockTraffic"]
    assert event_names(False, deployment=REPLACEMENT) == [
        n for n in ALL if n not in ("BeforeBlockTraffic", "AfterBlockTraffic")]


# deployer.rb#add_download_bundle_and_install_events (aws-codedeploy-agent, lib/aws/codedeploy/
# local): the required events first when missing, then the given ones; Install swapped with
# DownloadBundle when it comes first
@pytest.mark.parametrize("subset, names", [
    (("AfterInstall",), ["DownloadBundle", "Install", "AfterInstall"]),
    (("ApplicationStart", "AfterInstall"),
     ["DownloadBundle", "Install", "ApplicationStart", "AfterInstall"]),
    (("Install", "AfterInstall"), ["DownloadBundle", "Install", "AfterInstall"]),
    (("ApplicationStart", "Install", "DownloadBundle"),
     ["ApplicationStart", "DownloadBundle", "Install"]),
    (("Install", "BeforeInstall", "DownloadBundle"),
     ["DownloadBundle", "BeforeInstall", "Install"])])
def test_event_names_subset_as_codedeploy_local(subset: tuple[str, ...],
                                                names: list[str]) -> None:
    assert event_names(True, subset) == names


@given(st.lists(st.sampled_from(ALL), unique=True, min_size=1, max_size=len(ALL)).map(tuple))
def test_event_names_subset_runs_each_once_download_before_install(
        subset: tuple[str, ...]) -> None:
    names = event_names(False, subset)
    assert sorted(names) == sorted(set(subset) | {"DownloadBundle", "Install"})
    assert names.index("DownloadBundle") < names.index("Install")
    assert [n for n in names if n not in ("DownloadBundle", "Install")] == \
        [n for n in subset if n not in ("DownloadBundle", "Install")]


def test_modelled_in_place_on_this_machine() -> None:
    assert modelled(IN_PLACE, (), True, "") == (
        "traffic hooks run: codedeploy-local's order, as a deployment group with a load "
        "balancer (--no-load-balancer: the service skips them)",
        "the instance's file system: this machine's / (--image: the instance's own)")


def test_modelled_events_and_image() -> None:
    assert modelled(IN_PLACE, ("AfterInstall",), True, "/img") == (
        "only the events given with --events (as codedeploy-local --events)",
        "the instance's file system: the image /img (its users, packages and units)")


def test_modelled_kinds_of_deployment_say_what_runs() -> None:
    assert [modelled(d, (), lb, "")[0] for d, lb in
            ((IN_PLACE, False), (REPLACEMENT, True), (ORIGINAL, True))] == [
        "no load balancer: the service skips the Before/After Block/AllowTraffic hooks",
        "a blue/green deployment's replacement instance: launched new (no earlier revision), "
        "the install, then the AllowTraffic hooks (--instance original: what the original "
        "instances run)",
        "a blue/green deployment's original instance: only the BlockTraffic hooks, from its "
        "last successful revision; this revision is not installed there"]
