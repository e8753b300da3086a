"""File system operations for root over trees a less privileged user can write.

On an instance `agentkit hook` runs as root over the shared NFS/EFS directory, releases and
the health file's directory, which the application's own user can write. Whoever runs code as
that user can plant a symlink or a hard link, or swap a directory for a link between root's
check and root's use (the class of the logrotate and systemd-tmpfiles CVEs). Every action of
`agentkit/hooks/` therefore goes through this package, and nothing else there touches a path:

- chase.py   a configured path opened from `/`, following a symlink only where nobody but
             root (or the caller) can have put it there (systemd's CHASE_SAFE idea)
- dirfd.py   `Dir`: an open directory and the *at() calls relative to it, each entry checked
             with fstat to be of the type expected, never followed; `Tampered` when not
- walk.py    recursive walks (permissions, removal, copying) on a stack of directory
             descriptors, each entered one checked against its listing (st_dev, st_ino)
- drop.py    running a step as the tree's owner (fork, setgroups, setresgid, setresuid)
- syscalls.py  openat2, renameat2, fchownat(AT_EMPTY_PATH): what Python's os module lacks
- pause.py   the point every operation passes first: the race tests swap paths there

This package imports nothing of agentkit above it.
"""
