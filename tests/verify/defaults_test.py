"""verify.defaults: the `verify:` section of the project's agentkit.yml."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentkit.errors import BadConfig
from agentkit.verify import defaults


def _yml(tmp_path: Path, text: str) -> str:
    path = tmp_path / "proj" / "agentkit.yml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("text", ["", "deploy:\n  x: 1\n", "verify:\n", "verify: ~\n",
                                  "verify:\n  image:\n"])
def test_image_not_given_is_none(tmp_path: Path, text: str) -> None:
    assert defaults.image(_yml(tmp_path, text)) is None


def test_image_relative_is_below_the_file_s_directory(tmp_path: Path) -> None:
    path = _yml(tmp_path, "verify:\n  image: images/../img/al2023.tar.gz\n")
    assert defaults.image(path) == f"{tmp_path}/proj/img/al2023.tar.gz"


def test_image_absolute_and_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/someone")
    assert defaults.image(_yml(tmp_path, "verify:\n  image: /srv/img\n")) == "/srv/img"
    assert defaults.image(_yml(tmp_path, "verify:\n  image: ~/img.tar\n")) == \
        "/home/someone/img.tar"


@pytest.mark.parametrize("text, problem", [
    ("verify: yes\n", "1: verify: expected a mapping such as `image: images/al2023.tar.gz`."),
    ("a: 1\nverify:\n  - image\n",
     "3: verify: expected a mapping such as `image: images/al2023.tar.gz`."),
    ("verify:\n  image: '  '\n",
     "2: verify > image: expected the path of an image directory or tarball, got '  '."),
    ("verify:\n  image: [a]\n",
     "2: verify > image: expected the path of an image directory or tarball, got ['a']."),
    ("verify:\n  imgae: x\n", "2: verify > imgae: unknown key; expected one of image.")])
def test_image_bad_section_names_file_and_line(tmp_path: Path, text: str,
                                               problem: str) -> None:
    path = _yml(tmp_path, text)
    with pytest.raises(BadConfig) as exc:
        defaults.image(path)
    assert str(exc.value) == f"{path}:{problem}"


def test_image_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = _yml(tmp_path, "verify:\n  image: [\n")
    with pytest.raises(BadConfig) as exc:
        defaults.image(path)
    # the parser's own words differ between libyaml and PyYAML's Python parser
    assert str(exc.value).startswith(f"{path}:3: YAML syntax: ")
    assert "\n" not in str(exc.value)
