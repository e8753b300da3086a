#!/bin/sh
set -eu
echo "after install: ${DEPLOYMENT_GROUP_NAME:-local}"
