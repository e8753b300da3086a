"""verify's Options: the defaults are the real agent's (1.x, a default deployment)."""

from __future__ import annotations

import dataclasses

import pytest

from agentkit.verify.options import AgentOptions, BoxOptions, Options, ReportOptions


def test_options_defaults_model_a_default_deployment_of_agent_1x() -> None:
    assert Options("bundle.tgz") == Options(
        "bundle.tgz",
        AgentOptions(
            bundle_type=None, generation="1",
            file_exists_behavior="DISALLOW",  # CreateDeployment's default
            group_id="dg-verify", deployment_id="d-VERIFY0001", load_balancer=True,
            install=True, events=(), application_name="agentkit-verify",
            group_name="LocalFleet", bundle_env=(), env_from_caller=False,
            appspec_name="appspec.yml",
            agent_root="/opt/codedeploy-agent/deployment-root",  # codedeployagent.yml :root_dir:
            max_revisions=5,  # command_executor.rb ARCHIVES_TO_RETAIN
            ignore_stop_failures=False, deployment="in-place"),
        BoxOptions(hooks="sandbox", network=False, max_disk=4 << 30, max_procs=1024,
                   masked=(), image="", image_notes=()),
        ReportOptions(digests=True, paths=True))


def test_options_are_frozen_values() -> None:
    opts = Options("a.zip")
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.agent.generation = "2"  # type: ignore[misc]
    changed = dataclasses.replace(opts, box=dataclasses.replace(opts.box, hooks="skip"))
    assert (opts.box.hooks, changed.box.hooks, changed.agent is opts.agent) == (
        "sandbox", "skip", True)

