#!/bin/sh
# The one hook script a bundle needs: copy it into the bundle (e.g. scripts/agentkit-hook.sh,
# executable, LF line endings) and list it under every event in appspec.yml. It runs what
# agentkit.yml (next to appspec.yml) asks for $LIFECYCLE_EVENT, with the agentkit baked
# into the AMI.
set -eu
dir=$(cd "$(dirname "$0")" && pwd)
while [ "$dir" != / ] && [ ! -f "$dir/appspec.yml" ]; do
  dir=$(dirname "$dir")
done
if [ -n "${AGENTKIT:-}" ]; then
  :
elif [ -x /opt/agentkit/bin/agentkit ]; then
  AGENTKIT=/opt/agentkit/bin/agentkit
elif command -v agentkit >/dev/null 2>&1; then
  AGENTKIT=$(command -v agentkit)
else
  echo "agentkit-hook: agentkit is not installed on this instance (no" \
    "/opt/agentkit/bin/agentkit, none on PATH); bake it into the AMI (packaging/)" >&2
  exit 127
fi
exec "$AGENTKIT" hook run --config "${AGENTKIT_CONFIG:-$dir/agentkit.yml}"
