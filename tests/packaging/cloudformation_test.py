"""packaging/cloudformation/stack.yaml: valid to cfn-lint, and least privilege where the
seed's stack was not (S3 read on the one revision bucket, AWS's managed CodeDeploy policy,
instances reachable from the load balancer only, the health check on agentkit's file)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

STACK = Path(__file__).resolve().parents[2] / "packaging" / "cloudformation" / "stack.yaml"


class _Loader(yaml.SafeLoader):
    """YAML with CloudFormation's short forms (!Ref, !Sub, !GetAtt...) kept as values."""


def _tag(loader: _Loader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node)
    else:
        value = loader.construct_mapping(node)  # type: ignore[arg-type]
    return {suffix: value}


_Loader.add_multi_constructor("!", _tag)


def _resources() -> dict[str, Any]:
    stack = yaml.load(STACK.read_text(), Loader=_Loader)  # a SafeLoader, plus the tags
    resources: dict[str, Any] = stack["Resources"]
    return resources


def test_cloudformation_stack_passes_cfn_lint() -> None:
    lint = shutil.which("cfn-lint", path=str(Path(sys.executable).parent)) or \
        shutil.which("cfn-lint")
    if lint is None:
        pytest.skip("cfn-lint is in the test extra (pip install '.[test]')")
    done = subprocess.run([lint, str(STACK)], capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout) == (0, "")


def test_cloudformation_stack_is_least_privilege() -> None:
    r = _resources()
    [statement, agent_package] = r["InstanceRole"]["Properties"]["Policies"][0][
        "PolicyDocument"]["Statement"]
    assert statement["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]
    assert statement["Resource"] == {"Sub": "arn:${AWS::Partition}:s3:::${RevisionBucket}/*"}
    assert agent_package["Action"] == "s3:GetObject"
    assert r["CodeDeployServiceRole"]["Properties"]["ManagedPolicyArns"] == [
        {"Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSCodeDeployRole"}]
    assert "Policies" not in r["CodeDeployServiceRole"]["Properties"]
    [ingress] = r["InstanceSecurityGroup"]["Properties"]["SecurityGroupIngress"]
    assert ingress["SourceSecurityGroupId"] == {"Ref": "LoadBalancerSecurityGroup"}
    assert "CidrIp" not in ingress
    target = r["TargetGroup"]["Properties"]
    assert target["HealthCheckPath"] == {"Ref": "HealthCheckPath"}
    group = r["DeploymentGroup"]["Properties"]
    assert (group["DeploymentConfigName"], group["DeploymentStyle"]) == (
        "CodeDeployDefault.OneAtATime",
        {"DeploymentType": "IN_PLACE", "DeploymentOption": "WITH_TRAFFIC_CONTROL"})
    template = r["LaunchTemplate"]["Properties"]["LaunchTemplateData"]
    assert template["MetadataOptions"]["HttpTokens"] == "required"
    user_data = template["UserData"]["Fn::Base64"]["Sub"]
    assert "agentkit, hook, preflight" in user_data and "start, codedeploy-agent" in user_data
