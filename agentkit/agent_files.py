"""Where the CodeDeploy agent keeps its files on an instance, as its installer lays them out
(both generations; the agent's conf/codedeployagent.yml can move the first two). One place
for verify's model of the agent and for the hooks and doctor on instances."""

DEPLOYMENT_ROOT = "/opt/codedeploy-agent/deployment-root"  # :root_dir:
LOG_DIR = "/var/log/aws/codedeploy-agent/"  # :log_dir:
CONFIG = "/etc/codedeploy-agent/conf/codedeployagent.yml"
