"""Bundles that reproduce real failures people asked about, each run through verify."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scenario:
    event: str
    body: str  # the script, after its #! line
    runas: str | None = None
    timeout: int | None = None
    shebang: str = "#!/bin/bash\n"
    extra: tuple[tuple[str, str, int], ...] = ()  # more files: (name, content, mode)


SCENARIOS: dict[str, Scenario] = {
    "AK800": Scenario("AfterInstall", "pm2 start app.js\n"),
    "AK801": Scenario("ApplicationStart", "sleep 30 &\necho started\n", timeout=2),
    "AK807": Scenario("AfterInstall", '"$(dirname "$0")/helper.sh"\n',
                      extra=(("s/helper.sh", "#!/bin/sh\necho helper\n", 0o644),)),
    "AK808": Scenario("AfterInstall", "until false; do sleep 0.2; done\n", timeout=1),
    "AK809": Scenario("AfterInstall", "cat config/app.yml\n"),
    "AK810": Scenario("ValidateService", "curl -sS http://127.0.0.1:9/\n"),
    "AK811": Scenario("AfterInstall", "cd /var/www/app\r\nnpm ci\r\n"),
    "AK812": Scenario("AfterInstall", "echo hi\n", shebang="#!/usr/bin/python2\n"),
    "AK815": Scenario("AfterInstall", "echo x > /dev/full\n"),
    "AK816": Scenario("AfterInstall",
                      "cp /bin/sleep /tmp/s\n/tmp/s 3 &\nsleep 0.3\ncp /bin/sleep /tmp/s\n"),
    "AK817": Scenario("ApplicationStart",
                      "python3 - <<'PY'\nimport socket\na = socket.socket()\n"
                      "a.bind(('127.0.0.1', 0))\na.listen()\nb = socket.socket()\n"
                      "b.bind(a.getsockname())\nPY\n"),
    "AK818": Scenario("ApplicationStart", "systemctl restart shop-api\n"),
    "AK819": Scenario("AfterInstall",
                      "python3 -c \"import socket; socket.getaddrinfo('registry.npmjs.org', "
                      "443)\"\n"),
}
