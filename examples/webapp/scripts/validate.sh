#!/bin/sh
set -eu
echo "validating webapp"
