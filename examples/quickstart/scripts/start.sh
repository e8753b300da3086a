#!/bin/sh
# Start the site's server and return: a daemon must not keep the hook's stdout open, or the
# agent waits for it until the timeout (OUTPUTS_LEFT_OPEN).
set -eu
cd /var/www/quickstart
nohup python3 -m http.server --bind 127.0.0.1 8080 >/dev/null 2>&1 &
echo "server started (pid $!)"
