#!/bin/sh
# ApplicationStart: serve /var/www/shop/current through nginx (Debian/Ubuntu's sites-enabled,
# or conf.d elsewhere), then (re)load it. nginx forks into the background itself, so the hook
# returns at once and the agent does not wait on its output.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
if [ -d /etc/nginx/sites-enabled ]; then
  rm -f /etc/nginx/sites-enabled/default
  cp "$here/config/nginx-shop.conf" /etc/nginx/sites-enabled/shop.conf
else
  cp "$here/config/nginx-shop.conf" /etc/nginx/conf.d/shop.conf
fi
systemctl enable nginx
systemctl reload-or-restart nginx
echo "nginx serves /var/www/shop/current"
