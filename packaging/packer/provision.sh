#!/bin/sh
# Runs on the build instance (as root, from agentkit.pkr.hcl): wait for cloud-init and the
# package manager, install the CodeDeploy agent and agentkit, then leave the AMI clean: no
# revisions in the deployment root, no health-check file, the agent stopped but enabled.
set -eu
: "${AGENT_GENERATION:=1}" "${REGION:=us-east-1}"

cloud-init status --wait >/dev/null 2>&1 || true
for _ in $(seq 1 60); do  # another dnf (cloud-init's, an update timer) holds the lock
  if ! fuser /var/lib/rpm/.rpm.lock >/dev/null 2>&1; then break; fi
  sleep 5
done

dnf install -y -q ruby wget python3 nfs-utils
cd /tmp
wget -q "https://aws-codedeploy-${REGION}.s3.${REGION}.amazonaws.com/latest/install"
chmod +x install
if [ "$AGENT_GENERATION" = 2 ]; then
  ./install rpm2  # the 2.x agent's installer target; fails loudly if the region has none
else
  ./install auto
fi

/tmp/agentkit/packaging/install.sh --python /usr/bin/python3
/usr/local/bin/agentkit --version

systemctl stop codedeploy-agent
systemctl enable codedeploy-agent  # it starts at boot, after user data's preflight
rm -rf /opt/codedeploy-agent/deployment-root/*  # no revision of the build instance
rm -f /var/www/*/healthcheck.html  # an instance is healthy only once it has deployed
rm -rf /tmp/agentkit /tmp/install
