"""hook_env: the environment the agent gives hook scripts, and only that."""

from __future__ import annotations

import pytest

from agentkit.agent.environment import hook_env

AGENT = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
         "LANG": "C.UTF-8", "USER": "root", "LOGNAME": "root"}
LIFECYCLE = {"LIFECYCLE_EVENT": "AfterInstall", "DEPLOYMENT_ID": "d-1"}


@pytest.fixture(autouse=True)
def _caller(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI_SECRET", "s3cr3t")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIA")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "tok")


@pytest.mark.parametrize("generation", ["1", "2"])
def test_hook_env_is_the_agents_base_and_the_lifecycle_only(generation: str) -> None:
    assert hook_env(LIFECYCLE, False, generation) == {**AGENT, **LIFECYCLE}


def test_hook_env_from_caller_1x_keeps_everything_of_the_caller() -> None:
    env = hook_env(LIFECYCLE, True, "1")
    assert (env["CI_SECRET"], env["AWS_ACCESS_KEY_ID"], env["AWS_SESSION_TOKEN"],
            env["LIFECYCLE_EVENT"]) == ("s3cr3t", "AKIA", "tok", "AfterInstall")


def test_hook_env_from_caller_2x_drops_aws_credentials() -> None:
    env = hook_env(LIFECYCLE, True, "2")
    assert [n for n in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                        "AWS_SECURITY_TOKEN") if n in env] == []
    assert (env["CI_SECRET"], env["DEPLOYMENT_ID"]) == ("s3cr3t", "d-1")


def test_hook_env_lifecycle_wins_over_the_base() -> None:
    assert hook_env({"PATH": "/x"}, False, "1")["PATH"] == "/x"
