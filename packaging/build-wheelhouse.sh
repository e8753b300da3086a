#!/bin/sh
# Wheels of agentkit and everything it needs, for packaging/install.sh --wheelhouse DIR on a
# machine without PyPI (an AMI build in a private subnet). Build it with the python3 of the
# target (same version and architecture: psutil and PyYAML have compiled wheels).
#   packaging/build-wheelhouse.sh DIR [PYTHON]
set -eu
out=${1:?usage: build-wheelhouse.sh DIR [PYTHON]}
python=${2:-python3}
here=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
"$python" -m pip wheel -q --wheel-dir "$out" "$here"
echo "wheels for $("$python" -V 2>&1) in $out:"
ls -1 "$out"
