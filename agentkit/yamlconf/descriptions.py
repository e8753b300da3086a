"""What each agentkit.yml key is for, in a sentence, by its path (`shared.root`,
`permissions[].path`, `events.EVENT`): the descriptions of the JSON Schema
(agentkit_yml.py) and of the reference page (docs/reference/agentkit-yml.md). Which keys exist,
their types and defaults are agentkit_yml.py's; tests/docs/pages_test.py fails when a key has
no line here, or a line here names a key that no longer exists.
"""

from __future__ import annotations

DESCRIPTIONS: dict[str, str] = {
    "version": "The file's format version: always `1`.",
    "release": "The directory the bundle is installed to on the instance (the release the "
               "shared links go into), without `releases:`.",
    "log": "Where the hooks log.",
    "log.file": "The log file every `agentkit hook` action appends to.",
    "shared": "Capistrano's linked_dirs: directories and files kept on shared storage (EFS, "
              "NFS) and linked into each release by `link-shared`.",
    "shared.root": "The shared storage directory.",
    "shared.require_mount": "Refuse to create anything unless `root` is on a mount of this "
                            "type (`none`: any file system, including the root disk).",
    "shared.dirs": "Directories of the release that become links to `root/DIR`.",
    "shared.files": "Files of the release that become links to `root/FILE`.",
    "shared.link": "Whether the links are absolute or relative.",
    "shared.on_conflict": "What to do with a real directory the archive brought where a link "
                          "goes: keep it as a backup, seed an empty shared directory with it, "
                          "or fail.",
    "shared.missing_file": "What to do when a shared file does not exist yet: fail, create "
                           "it empty, or seed it from the release.",
    "shared.owner": "The owner given to shared directories it creates.",
    "shared.group": "The group given to shared directories it creates.",
    "shared.mode": "The mode given to shared directories it creates.",
    "permissions": "Owners and modes `permissions` sets, one rule per tree.",
    "permissions[].path": "The tree to walk.",
    "permissions[].owner": "The owner of every entry.",
    "permissions[].group": "The group of every entry.",
    "permissions[].file_mode": "The mode of every file.",
    "permissions[].dir_mode": "The mode of every directory.",
    "permissions[].exclude": "Globs, relative to `path`, left alone.",
    "permissions[].cross_mounts": "Also enter other mounts below `path` (NFS, EFS).",
    "permissions[].strict": "Fail the hook when an entry cannot be changed (default: sum "
                            "them up and succeed).",
    "health": "The load balancer's health-check file, written by `health up` and removed by "
              "`health down`.",
    "health.file": "The health-check file.",
    "health.content": "What the file holds.",
    "health.owner": "The file's owner.",
    "health.group": "The file's group.",
    "health.drain": "How long `health down` waits for the load balancer to see the instance "
                    "unhealthy: `interval x unhealthy_threshold + timeout`.",
    "health.drain.interval": "The target group's health-check interval (0: no wait).",
    "health.drain.unhealthy_threshold": "The target group's unhealthy threshold.",
    "health.drain.timeout": "The target group's health-check timeout.",
    "validate": "What `validate` checks, retried with backoff until the deadline.",
    "validate.url": "The URL to fetch.",
    "validate.status": "The HTTP status codes that pass.",
    "validate.body": "A regular expression the response body must match.",
    "validate.headers": "Request headers, as a mapping of name to value.",
    "validate.timeout": "The time one try may take.",
    "validate.deadline": "The time all tries may take (it must fit in the hook's timeout).",
    "validate.processes": "Process names that must be running.",
    "validate.ports": "TCP ports something must listen on.",
    "preflight": "What `preflight` checks before the install.",
    "preflight.min_free": "Free disk needed, as a multiple of the bundle (`2x`) or a size "
                          "(`500MB`).",
    "preflight.users": "Users that must exist.",
    "preflight.groups": "Groups that must exist.",
    "preflight.commands": "Commands that must be on the PATH.",
    "preflight.mounts": "Mount points that must be mounted.",
    "releases": "Capistrano's layout on the instance: `root/releases/ID`, `root/current`, "
                "and the appspec's `files` destination as the staging directory.",
    "releases.root": "Where `releases/` and `current` live.",
    "releases.staging": "The appspec's `files` destination, copied into each new release.",
    "releases.keep": "How many releases to keep (at least 2: the current and the previous).",
    "releases.swap": "The event whose `release` action points `current` at the new release.",
    "releases.restart": "The command a `release rollback` runs after its swap.",
    "events": "The actions `agentkit hook run` does for each lifecycle event.",
    "events.EVENT": "A list of actions for that event, in order: release, link-shared, "
                    "permissions, health up, health down, validate, preflight.",
    "deploy": "What `agentkit appspec generate` writes appspec.yml from.",
    "deploy.destination": "Where the bundle's files go (required).",
    "deploy.source": "The part of the bundle installed (default: all of it).",
    "deploy.owner": "The owner of what is installed.",
    "deploy.group": "The group of what is installed.",
    "deploy.file_mode": "The mode of installed files (three octal digits).",
    "deploy.dir_mode": "The mode of installed directories (three octal digits).",
    "deploy.file_exists_behavior": "DISALLOW (the agent's default), OVERWRITE or RETAIN.",
    "deploy.runas": "The user every hook runs as.",
    "deploy.shim": "The hook script every event runs (default scripts/agentkit-hook.sh).",
    "deploy.events": "The events with hooks, and each one's timeout in seconds.",
    "deploy.scripts": "The bundle's own scripts of an event, run after the shim.",
    "verify": "Defaults of `agentkit verify`.",
    "verify.image": "The instance image verify runs against (a directory or a tar/tar.gz), "
                    "relative to this file.",
}
