"""`agentkit doctor`: why a deployment did not happen on this instance, one check a line.

Each module checks one part, reading the instance's files under a root (`--root`, `/` by
default, a scratch copy in tests): agent.py the CodeDeploy agent (installed, running, its
config, its deployment root, the last deployment in its logs), instance.py what the agent
needs from AWS (the instance metadata service with IMDSv2, the instance profile, the S3 and
CodeDeploy endpoints through its proxy, the clock), storage.py what the hooks need (disk, the
shared mounts agentkit.yml names, the health file).
"""
