"""AK514 tells a build's compiled assets from copied user uploads by names and content."""

from __future__ import annotations

import json
import os
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from agentkit.bundle import assets, checks

# --- what builds write and what users upload ---------------------------------------------------

_WORD = st.text("abcdefghijklmnopqrstuvwxyz_", min_size=2, max_size=12).filter(
    lambda w: any(c not in "abcdef" for c in w))
_EXT = st.sampled_from(["css", "js", "map", "woff2", "woff", "ttf", "svg", "png", "jpg", "gif",
                        "ico", "eot", "json", "webp"])


@st.composite
def _hex_digest(draw: st.DrawFn) -> str:
    size = draw(st.sampled_from([8, 16, 20, 32, 64]))
    body = draw(st.text("0123456789abcdef", min_size=size - 2, max_size=size - 2))
    # a content hash has digits and letters: one of each, anywhere
    chars = [*body, draw(st.sampled_from("0123456789")), draw(st.sampled_from("abcdef"))]
    return "".join(draw(st.permutations(chars)))


@st.composite
def _vite_hash(draw: st.DrawFn) -> str:
    rest = draw(st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-",
                        min_size=5, max_size=5))
    return "".join(draw(st.permutations([*rest, "Q", "k", "4"])))


@st.composite
def _asset_name(draw: st.DrawFn) -> list[str]:
    """One compiled file, as Sprockets, webpack, create-react-app or Vite names it, and
    perhaps its precompressed copies."""
    stem, ext = draw(_WORD), draw(_EXT)
    style = draw(st.sampled_from(["sprockets", "webpack", "cra", "cra-chunk", "vite"]))
    if style == "vite":
        name = f"{stem}-{draw(_vite_hash())}.{ext}"
    elif style == "cra":
        name = f"{stem}.{draw(_hex_digest())}.{ext}"
    elif style == "cra-chunk":
        name = f"{draw(st.integers(0, 9999))}.{draw(_hex_digest())}.chunk.js"
    else:
        name = f"{stem}-{draw(_hex_digest())}.{ext}"
    return [name, *draw(st.sampled_from([[], [name + ".gz"], [name + ".gz", name + ".br"]]))]


@st.composite
def _asset_tree(draw: st.DrawFn) -> list[str]:
    files = draw(st.lists(_asset_name(), min_size=10, max_size=60))
    prefix = draw(st.sampled_from(["", "images/", "media/images/", "js/", "static/media/"]))
    # a build may ship a few plain files too (robots.txt, favicon.ico, a font's license)
    plain = draw(st.lists(st.sampled_from(["favicon.ico", "robots.txt", "LICENSE.txt",
                                           "manifest.json"]), max_size=2, unique=True))
    return [prefix + n for group in files for n in group] + plain


@st.composite
def _upload_name(draw: st.DrawFn) -> str:
    ext = draw(st.sampled_from(["jpg", "jpeg", "png", "JPG", "pdf", "gif", "mp4", "docx"]))
    style = draw(st.sampled_from(["id", "camera", "uuid", "paperclip", "person", "dated"]))
    n = draw(st.integers(0, 10**6))
    if style == "id":
        return f"{n}.{ext}"
    if style == "camera":
        return f"{draw(st.sampled_from(['IMG_', 'DSC', 'DSC-', 'PXL_']))}{n:04d}.{ext}"
    if style == "uuid":
        return f"{draw(st.uuids())}.{ext}"
    if style == "paperclip":
        return f"{n // 10**6:03d}/{n // 1000 % 1000:03d}/{n % 1000:03d}/original/photo.{ext}"
    if style == "dated":
        return f"{draw(st.dates()).isoformat()}-{n}.{ext}"
    return f"{draw(_WORD)}_{draw(_WORD)}.{ext}"


@given(_asset_tree())
@settings(max_examples=200)
def test_assets_compiled_trees_are_never_taken_for_uploads(names: list[str]) -> None:
    assert assets.compiled_names(names)


@given(st.lists(_upload_name(), min_size=1, max_size=200))
@settings(max_examples=300)
def test_assets_upload_trees_are_never_taken_for_a_build(names: list[str]) -> None:
    assert not assets.compiled_names(names)


@given(st.lists(_upload_name(), min_size=4, max_size=100),
       st.lists(_asset_name(), max_size=1))
def test_assets_a_stray_asset_among_uploads_changes_nothing(uploads: list[str],
                                                           stray: list[list[str]]) -> None:
    names = uploads + [n for group in stray for n in group]
    assert not assets.compiled_names(names)


# --- on disk, through the tree walk -----------------------------------------------------------


def _write(root: Path, names: list[str]) -> None:
    made: set[str] = set()
    for name in names:
        path = os.path.join(root, name)
        parent = os.path.dirname(path)
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o644))


def _rails_assets(count: int) -> list[str]:
    out = []
    for i in range(count // 2):
        digest = f"{i:08x}".replace("0", "a") + "3f2a9c1e7b8d4a5f6e0c1b2a3d4e5f60718293a4b5c6d7e8"
        out += [f"application{i}-{digest}.css", f"application{i}-{digest}.css.gz"]
    return out


def test_tree_rails_public_assets_of_40000_files_is_no_finding(tmp_path: Path) -> None:
    root = tmp_path / "b"
    _write(root / "public" / "assets", _rails_assets(40_000))
    assert list(checks.tree(str(root), "/R")) == []


def test_tree_webpacker_media_images_with_its_manifest_is_no_finding(tmp_path: Path) -> None:
    # public/packs/media/images: webpack keeps the image names it was given; its manifest
    # lists them, so the content says it is a build
    packs = tmp_path / "b" / "public" / "packs"
    names = [f"media/images/{i}-0123abcd.jpg" for i in range(1200)]
    _write(packs, names)
    (packs / "manifest.json").write_text(json.dumps({
        f"media/images/{i}.jpg": f"/packs/{n}" for i, n in enumerate(names)}))
    assert assets.compiled_names(names) is False  # `85-0123abcd.jpg`: the stem is no word
    assert list(checks.tree(str(tmp_path / "b"), "/R")) == []


def test_tree_user_uploads_are_still_flagged(tmp_path: Path) -> None:
    root = tmp_path / "b"
    _write(root / "shared" / "media" / "images", [f"{i}.jpg" for i in range(1100)])
    _write(root / "public" / "uploads", [f"user/avatar/{i}/{i}.png" for i in range(1000)])
    found = sorted((f.code, f.message) for f in checks.tree(str(root), "/R"))
    assert found == [
        ("AK514", "public/uploads/ holds 1000 files: it looks like shared storage that was "
         "copied into the archive"),
        ("AK514", "shared/ holds 1100 files: it looks like shared storage that was copied into "
         "the archive")]


def test_tree_a_manifest_that_lists_nothing_present_is_no_proof(tmp_path: Path) -> None:
    media = tmp_path / "b" / "media"
    _write(media, [f"{i}.jpg" for i in range(1000)])
    (media / "manifest.json").write_text(json.dumps({"a.js": "a-0123abcd.js"}))
    assert [f.code for f in checks.tree(str(tmp_path / "b"), "/R")] == ["AK514"]
    (media / "manifest.json").write_text("{not json")
    assert [f.code for f in checks.tree(str(tmp_path / "b"), "/R")] == ["AK514"]


def test_sample_is_bounded_sorted_and_relative(tmp_path: Path) -> None:
    _write(tmp_path, [f"d{i % 3}/f{i}" for i in range(50)])
    os.symlink("d0", tmp_path / "link")
    names = assets.sample(str(tmp_path), 10)
    assert len(names) == 10 and names == sorted(names) and names[0] == "d0/f0"


def test_tree_no_install_judges_the_names_it_did_not_write(tmp_path: Path) -> None:
    # --no-install writes only the appspec and scripts: the names come from the listing
    from agentkit.bundle.unpack import unpack

    from ..archives import APPSPEC_OK, tar

    built = [(f"public/assets/{n}", "file", "", 0o644) for n in _rails_assets(1200)]
    uploads = [(f"public/uploads/{i}.jpg", "file", "", 0o644) for i in range(1000)]
    arc = tar(tmp_path / "b.tgz", [("appspec.yml", "file", APPSPEC_OK, 0o644), *built,
                                   *uploads])
    out = unpack(str(arc), str(tmp_path / "o"), None, "1", lean=True)
    assert not os.path.exists(tmp_path / "o" / "public" / "uploads" / "1.jpg")
    found = [(f.code, f.path) for f in checks.tree(str(tmp_path / "o"), "/R", out.listing)]
    assert found == [("AK514", "/R/public/uploads")]


# --- the whole judgment, on disk: a smaller threshold so that each example stays small ------


def _judged(tree: dict[str, list[str]]) -> list[tuple[str, str]]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for directory, names in tree.items():
            _write(Path(tmp) / directory, names)
        return [(f.code, f.path) for f in checks.tree(tmp, "/R")]


@given(st.sampled_from(["public/assets", "public/packs/media", "assets", "static/images"]),
       _asset_tree())
@settings(max_examples=40, deadline=None)
def test_tree_asset_like_trees_are_never_flagged(directory: str, names: list[str]) -> None:
    original = checks.SHARED_FILES
    checks.SHARED_FILES = 8  # every generated tree is "big"
    try:
        assert _judged({directory: names}) == []
    finally:
        checks.SHARED_FILES = original


@given(st.sampled_from(["public/uploads", "shared/media", "storage", "public/system/images"]),
       st.lists(_upload_name(), min_size=8, max_size=60, unique=True))
@settings(max_examples=40, deadline=None)
def test_tree_upload_like_trees_are_still_flagged(directory: str, names: list[str]) -> None:
    original = checks.SHARED_FILES
    checks.SHARED_FILES = 8
    try:
        found = _judged({directory: names})
    finally:
        checks.SHARED_FILES = original
    # the outermost directory with a shared-looking name is the one reported
    top = next(p for p in ("public/uploads", "shared", "storage", "public/system/images")
               if directory.startswith(p))
    assert found == [("AK514", f"/R/{top}")]
