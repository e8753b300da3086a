#!/bin/sh
set -eu
exec agentkit hook run
