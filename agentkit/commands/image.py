"""`agentkit image build|unpack|list|remove`: instance images for `verify --image`. build
makes one from a package list (agent/image_build.py); the rest manage the cache verify unpacks
tarballs into (agent/image.py): warm it in a CI step of its own, see what it holds, and empty
it (a plain user's entries hold files of its subordinate ids, which only agentkit, through the
same user namespace, or root can remove)."""

from __future__ import annotations

import argparse
import sys
import time

from agentkit.box import ids
from agentkit.errors import BadInput, UsageError
from agentkit.image import build as image_build
from agentkit.image import cache as image


def unpack(path: str, cache: str | None) -> int:
    found = image.prepare(path, cache)
    print(found.root)
    for note in found.notes:
        print(f"note: {note}")
    return 0


def list_images(cache: str | None) -> int:
    found = image.entries(cache)
    if not found:
        print(f"no unpacked images in {cache or image.default_cache()}")
        return 0
    now = image.owner_scheme(ids.choose())
    print(f"{'sha256':<14} {'unpacked':<20} {'owners':<9} source")
    for e in found:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.unpacked))
        # an entry unpacked with other ids (another /etc/subuid) is unpacked again on use
        owners = "kept" if e.owners == now else "stale"
        print(f"{e.digest[:12]:<14} {when:<20} {owners:<9} {e.source}")
    return 0


def remove(digests: list[str], every: bool, cache: str | None) -> int:
    if every == bool(digests):
        raise UsageError("agentkit image remove: name the images (their sha256, as "
                         "`agentkit image list` shows) or give --all, not both.")
    found = image.entries(cache)
    chosen = found if every else []
    for want in digests:
        match = [e for e in found if e.digest.startswith(want.lower())]
        if len(match) != 1:
            raise BadInput(f"agentkit image remove {want}: "
                           f"{'no' if not match else 'more than one'} unpacked image has a "
                           f"sha256 starting so in {cache or image.default_cache()} "
                           "(`agentkit image list` shows them).")
        chosen += match
    for e in chosen:
        image.remove(e.root)
        print(f"removed {e.digest[:12]} ({e.source})")
    if every:
        for root in image.half_made(cache):  # of unpackings that were killed
            image.remove(root)
    return 0


def build(args: argparse.Namespace) -> int:
    r = image_build.recipe(args.distribution, args.release, args.packages, args.mirror)
    baked = image_build.bake(args.agentkit_package, args.no_agentkit)
    what = ("no agentkit" if baked.kind == "none" else
            f"agentkit from {baked.path or image_build.checkout()}")
    print(f"building {r.distribution} {r.release} with {', '.join(r.packages)} and {what} "
          f"from {r.mirror} (debootstrap: a minute or more)", file=sys.stderr)
    out = image_build.build(r, args.output, baked)
    print(out)
    print(f"use it: agentkit verify --image {out} ARCHIVE (or verify: image: in agentkit.yml)",
          file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    if args.action == "build":
        return build(args)
    if args.action == "unpack":
        return unpack(args.path, args.cache)
    if args.action == "list":
        return list_images(args.cache)
    return remove(args.digests, args.all, args.cache)
