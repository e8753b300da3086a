#!/bin/sh
set -eu
echo "starting webapp"
