"""The hook box: a throw-away machine made of namespaces, in which hook scripts run.

A mechanism, not a model: it knows nothing of CodeDeploy. The agent model (agentkit.agent)
decides what runs, as whom, with which environment and deadline; the box decides only where
it runs and what it may touch. Its parts, each in its own module:

- syscalls.py  the few Linux calls Python's os module lacks (unshare, mount, pivot_root...)
- ids.py       whose uids the box gets: the caller's subordinate range, one uid, or (as real
               root) a shifted range, so that root in the box is never root of the host
- channel.py   the box's one line to verify: framed JSON messages with file descriptors
- items.py     what the box is told to show (Item) and tells back (Change), as plain values
- layers.py    writing items into a directory tree, and reading what hooks changed
- rootfs.py    building the box's root: overlays, /proc, /dev, /run, masks, pivot_root
- mimic.py     (unprivileged) user-owned copies of the host's /etc and directories
- stage.py     the process verify starts: enters the user namespace, makes pid 1
- init.py      pid 1 of the box: builds the root, then serves verify's requests
- client.py    verify's handle on a running box
"""
