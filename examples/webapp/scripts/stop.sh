#!/bin/sh
# ApplicationStop runs from the previous revision: stop quietly if nothing runs yet.
set -eu
echo "stopping webapp (deployment ${DEPLOYMENT_ID:-none})"
