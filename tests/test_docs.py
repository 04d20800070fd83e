"""The documentation: the site builds strictly, and the README is a short front page whose
links all lead somewhere in the repository."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

#: A Markdown link or image, ``[text](target)`` or ``![alt](target "title")``: its target.
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def readme_targets() -> list[str]:
    """The README's relative link targets (no web address, mail or anchor on the page), each
    without its ``#anchor``; what a fenced code block holds is not a link."""
    text = re.sub(r"^```.*?^```", "", README.read_text(encoding="utf-8"), flags=re.M | re.S)
    targets = [t for t in LINK.findall(text)
               if not t.startswith(("http://", "https://", "mailto:", "#"))]
    return [t.split("#", 1)[0] for t in targets]


def tracked_copy(folder: Path) -> Path:
    """What the site is built from, as a clean clone holds it: the files git tracks (a run
    folder that .gitignore leaves out is not there), or the tree itself outside git."""
    listed = subprocess.run(["git", "ls-files", "-z", "README.md", "mkdocs.yml", "docs", "src"],
                            cwd=ROOT, capture_output=True)
    if listed.returncode != 0:
        return ROOT
    for name in filter(None, listed.stdout.decode().split("\0")):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / name, folder / name)
    return folder


def test_site_builds_strictly(tmp_path):
    """``mkdocs build --strict`` from the tracked files: a broken link, a missing anchor, a
    page left out of git or a docstring that does not parse fails it; the API page holds a
    docstring generated from the code."""
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                           str(site)], cwd=tracked_copy(tmp_path / "clone"),
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (site / "index.html").is_file()
    front = (site / "index.html").read_text(encoding="utf-8")
    # the README as the front page, its docs/lab.md link made the site's
    assert "The two commands" in front and 'href="lab.html' in front
    api = (site / "api.html").read_text(encoding="utf-8")
    assert 'id="deepsets.create_train_dataset"' in api
    # the first line of create_train_dataset's docstring, rendered from the source
    assert "sets of 1..max_card digits, left zero-padded to" in api


def test_readme_links_resolve():
    targets = readme_targets()
    assert targets, "the README links into the docs"
    missing = [t for t in targets if not (ROOT / t).exists()]
    assert not missing, f"README.md links to files that are not in the repository: {missing}"


@pytest.mark.parametrize("text, targets", [
    ("[a](docs/lab.md#results) ![b](docs/x.png) [c](https://e.org) [d](#top)",
     ["docs/lab.md", "docs/x.png"]),
    ('[a](<docs/a.md>) [b](docs/c.md "title") [m](mailto:a@b.c)\n```\n[e](nowhere.md)\n```\n',
     ["docs/a.md", "docs/c.md"]),
])
def test_readme_links_are_read(tmp_path, monkeypatch, text, targets):
    """The link reader finds links and images, and skips web addresses, anchors and code."""
    page = tmp_path / "README.md"
    page.write_text(text, encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "README", page)
    assert readme_targets() == targets


def test_readme_is_short():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 150, f"README.md has {len(lines)} lines; the rest belongs in docs/"
