"""Whether a big directory of the bundle holds a build's compiled assets or copied user files.

AK514 warns of shared storage (uploads, media) copied into the archive. A build's compiled
assets (Rails `public/assets`, Webpacker's `public/packs`, a Vite or create-react-app build)
can be as big and live under the same names (`assets`, `media`, `images`), but they belong in
the release. Count alone cannot tell them apart; their names and content can:

- a build fingerprints each file: `application-3f2a9c...e1.css` (Sprockets: 64 or 32 hex),
  `main-1c2d3e4f5a6b7c8d9e0f.js` (Webpacker), `main.8f2a1b4c.js` (create-react-app),
  `index-BfX3k_9a.js` (Vite 5), and puts a compressed copy beside it (`.gz`, `.br`);
- it writes a manifest (`.sprockets-manifest-*.json`, `manifest.json`, `asset-manifest.json`,
  `.vite/manifest.json`) naming the files that are there, in the directory or above it
  (webpack's images keep the names they were given: only the manifest tells).

What users upload is named by people or by ids: `85.jpg`, `IMG_2041.JPG`, a UUID, a
Paperclip `000/000/085/original/photo.jpg`: no word-then-hash names, no manifest.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence

SAMPLE = 2000  # names looked at: enough to judge, bounded for a 40,000-file tree
MANIFEST_BYTES = 4 << 20  # a manifest bigger than that is not read
COMPRESSED = (".gz", ".br")
# word-then-hash, then one to three extensions (`.js`, `.js.map`, `.chunk.js`); a bare id
# (`3f2a9c1e.jpg`, a UUID, `20230101-0001.jpg`) is not a fingerprint
_FINGERPRINT = re.compile(
    r"^(?P<stem>.+?)[-.](?P<hash>[0-9a-f]{8,64}|[A-Za-z0-9_-]{8})"
    r"(?P<tail>(?:\.[A-Za-z0-9]{1,8}){1,3})$")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
_MANIFEST = re.compile(r"^(?:\.sprockets-manifest-[0-9a-f]+|manifest(?:-[0-9a-f]+)?|"
                       r"asset-manifest)\.json$")


def fingerprinted(name: str) -> bool:
    """Whether a file's base name carries a build's content hash."""
    name = _uncompressed(name)
    if _UUID.search(name):
        return False
    found = _FINGERPRINT.match(name)
    if found is None:
        return False
    # the stem is a word (a letter that is not a hex digit), or a numbered webpack chunk
    if not re.search(r"[g-zG-Z_]", found.group("stem")) and \
            not found.group("tail").startswith(".chunk."):
        return False
    digest = found.group("hash")
    if re.fullmatch(r"[0-9a-f]+", digest):
        # a hex digest has digits and letters both (all-digit: a date or a counter)
        return bool(re.search(r"[0-9]", digest)) and bool(re.search(r"[a-f]", digest))
    # an 8-character base64url hash (Vite) mixes cases and digits; a word does not
    return bool(re.search(r"[A-Z]", digest)) and bool(re.search(r"[a-z]", digest)) and \
        bool(re.search(r"[0-9_-]", digest))


def compiled_names(names: Sequence[str]) -> bool:
    """Whether most files are fingerprinted (their compressed copies counted with them)."""
    if not names:
        return False
    bases = [os.path.basename(n) for n in names]
    present = set(bases)
    hits = 0
    for base in bases:
        if fingerprinted(base):
            hits += 1
        elif base.endswith(COMPRESSED) and base[:-3] in present:
            hits += 1  # `x.css.gz` beside `x.css`: a build's precompressed copy
    return hits * 2 >= len(bases)


def manifest_names(text: str) -> set[str]:
    """The base names of the files a build manifest lists (Sprockets' `files`, webpack's and
    Vite's mappings): every key and value that names a file."""
    try:
        data = json.loads(text)
    except ValueError:
        return set()
    out: set[str] = set()
    todo = [data]
    while todo and len(out) < 1_000_000:
        item = todo.pop()
        if isinstance(item, dict):
            todo.extend(item.values())
            todo.extend(item.keys())
        elif isinstance(item, list):
            todo.extend(item)
        elif isinstance(item, str) and "." in item and len(item) < 4096:
            out.add(os.path.basename(item))
    return out


def _manifests(directory: str, root: str) -> list[str]:
    """Build manifests in the directory or a directory above it, up to the bundle's root
    (webpack's sits in public/packs, above packs/media)."""
    found = []
    here = os.path.abspath(directory)
    top = os.path.abspath(root)
    while True:
        try:
            with os.scandir(here) as it:
                found += sorted(e.path for e in it if _MANIFEST.match(e.name) and
                                e.is_file(follow_symlinks=False))
        except OSError:
            pass
        vite = os.path.join(here, ".vite", "manifest.json")
        if os.path.isfile(vite) and not os.path.islink(vite):
            found.append(vite)
        if here == top or not here.startswith(top.rstrip("/") + "/"):
            return found
        here = os.path.dirname(here)


def manifest_confirms(directory: str, names: Sequence[str], root: str) -> bool:
    """Whether a build manifest lists most of the files sampled (a `.gz`/`.br` copy counts
    with its file). A web app manifest naming a few icons proves nothing."""
    if not names:
        return False
    for path in _manifests(directory, root):
        try:
            with open(path, "rb") as f:
                text = f.read(MANIFEST_BYTES).decode("utf-8", "replace")
        except OSError:
            continue
        listed = manifest_names(text)
        if not listed:
            continue
        hits = sum(1 for n in names if _uncompressed(os.path.basename(n)) in listed)
        if hits * 2 >= len(names):
            return True
    return False


def _uncompressed(name: str) -> str:
    for ending in COMPRESSED:
        if name.endswith(ending):
            return name[:-len(ending)]
    return name


def compiled(directory: str, names: Sequence[str], root: str) -> bool:
    """A build's compiled assets: names that are mostly fingerprints, or a build manifest
    (here or above, within the bundle) that lists most of them."""
    return compiled_names(names) or manifest_confirms(directory, names, root)


def sample(directory: str, limit: int = SAMPLE) -> list[str]:
    """Up to `limit` file names below directory (relative), depth first in name order, one
    device, no links followed."""
    out: list[str] = []
    try:
        device = os.stat(directory).st_dev
    except OSError:
        return out
    stack = [""]
    while stack and len(out) < limit:
        rel = stack.pop()
        try:
            with os.scandir(os.path.join(directory, rel)) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        subdirs = []
        for entry in entries:
            name = os.path.join(rel, entry.name)
            try:
                if entry.is_dir(follow_symlinks=False):
                    if entry.stat(follow_symlinks=False).st_dev == device:
                        subdirs.append(name)
                elif entry.is_file(follow_symlinks=False):
                    out.append(name)
            except OSError:
                continue
        stack.extend(reversed(subdirs))
    return out[:limit]
