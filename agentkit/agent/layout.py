"""The agent's deployment root, laid out as on an instance (/opt/codedeploy-agent/deployment-root).

command_executor.rb: `<root>/<group-id>/<deployment-id>/{bundle.tar, deployment-archive/,
logs/scripts.log}` and `<root>/deployment-instructions/<group-id>-cleanup`,
`<group-id>-install.json`, `<group-id>_last_successful_install` (the deployment directory, no
newline; written at the end of Install) and `<group-id>_most_recent_install` (written at the end
of DownloadBundle).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from agentkit import beneath


@dataclass(frozen=True)
class Deployment:
    root: str  # the agent's deployment-root
    group_id: str
    deployment_id: str

    @property
    def dir(self) -> str:
        return os.path.join(self.root, self.group_id, self.deployment_id)

    @property
    def archive(self) -> str:
        return os.path.join(self.dir, "deployment-archive")

    @property
    def scripts_log(self) -> str:
        return os.path.join(self.dir, "logs", "scripts.log")

    @property
    def instructions(self) -> str:
        return os.path.join(self.root, "deployment-instructions")

    @property
    def cleanup_file(self) -> str:
        return os.path.join(self.instructions, f"{self.group_id}-cleanup")

    @property
    def install_json(self) -> str:
        return os.path.join(self.instructions, f"{self.group_id}-install.json")

    @property
    def last_successful(self) -> str:
        return os.path.join(self.instructions, f"{self.group_id}_last_successful_install")

    @property
    def most_recent(self) -> str:
        return os.path.join(self.instructions, f"{self.group_id}_most_recent_install")

    def create(self) -> None:
        os.makedirs(os.path.dirname(self.scripts_log), exist_ok=True)
        os.makedirs(self.instructions, exist_ok=True)

    def old_revisions(self, retain: int) -> list[str]:
        """The deployment directories DownloadBundle deletes to keep `retain` (the agent's
        :max_revisions:, 5 by default) with the new one: the oldest by mtime, never the last
        successful one (command_executor.rb#cleanup_old_archives)."""
        group = os.path.join(self.root, self.group_id)
        others = [os.path.join(group, n) for n in os.listdir(group)
                  if os.path.join(group, n) != self.dir]
        extra = len(others) - retain + 1
        if extra <= 0:
            return []
        last = self.previous_successful_dir()
        candidates = [p for p in others if p != last]
        return sorted(candidates, key=lambda p: os.lstat(p).st_mtime)[:extra]

    def previous_successful_dir(self) -> str | None:
        """The deployment directory named by the last-successful marker, if it still exists."""
        try:  # never through a link, a FIFO or a device a hook left there
            with os.fdopen(beneath.open_regular(self.last_successful), encoding="utf-8",
                           errors="replace") as f:
                path = f.read(1 << 16).strip()
        except FileNotFoundError:
            return None
        except OSError:  # beneath.Escapes, NotRegular: not a marker the agent would write
            return None
        return path if os.path.isdir(path) else None


def write_marker(path: str, text: str) -> None:
    """Write atomically (temp file + rename): a crash never leaves half a marker."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)
