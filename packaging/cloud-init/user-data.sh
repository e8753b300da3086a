#!/bin/bash
# The same as user-data.yaml for launch templates that take a script: mount the shared
# storage (with retries), check the instance with agentkit, then start the CodeDeploy agent.
# A failed step stops here: the agent is not started, the instance fails its health check
# and the Auto Scaling group replaces it.
set -euo pipefail
efs=fs-0123456789abcdef0.efs.us-east-1.amazonaws.com:/
mkdir -p /mnt/efs /etc/agentkit
if ! grep -q ' /mnt/efs ' /etc/fstab; then
  echo "$efs /mnt/efs nfs4 nfsvers=4.1,rsize=1048576,wsize=1048576,hard,timeo=600,retrans=2,noresvport,_netdev,nofail 0 0" >> /etc/fstab
fi
for _ in 1 2 3 4 5 6; do
  mountpoint -q /mnt/efs && break
  mount /mnt/efs || sleep 10
done
mountpoint -q /mnt/efs
cat > /etc/agentkit/boot.yml <<'YAML'
version: 1
preflight:
  min_free: 2GB
  mounts: [/mnt/efs]
  users: [www-data]
  commands: [nginx]
YAML
/usr/local/bin/agentkit hook preflight --config /etc/agentkit/boot.yml
systemctl start codedeploy-agent
