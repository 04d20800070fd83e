"""MkDocs hooks (``hooks:`` in mkdocs.yml): the repository's README.md is the site's front page.

The README is written for the repository, so its links start at the repository's root:
``docs/lab.md``, ``docs/example-run/accuracy.png``, ``notebooks/lab.ipynb``. The site is
built from ``docs/``, so the front page (``index.md``, generated here, never a file of its
own) gets each ``docs/...`` link made relative to ``docs/``; a link to a file outside
``docs/`` has no page on the site, and keeps its text without the link. Web addresses and
anchors stay as they are. ``mkdocs build --strict`` then checks every link as it checks a
page's.
"""

from __future__ import annotations

import re
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

README = Path(__file__).resolve().parents[1] / "README.md"

#: A Markdown link or image: ``[text](target)`` or ``![alt](target)``, the target without
#: spaces (a title after it is not used in the README).
LINK = re.compile(r"(?P<bang>!?)\[(?P<text>[^\]]*)\]\((?P<target>[^)\s]+)\)")

#: Targets left as they are: web addresses, mail and anchors on the page itself.
KEPT = ("http://", "https://", "mailto:", "#")


def site_link(match: re.Match[str]) -> str:
    """One README link as the site's front page needs it."""
    bang, text, target = match["bang"], match["text"], match["target"]
    if target.startswith(KEPT):
        return match[0]
    if target.startswith("docs/"):
        return f"{bang}[{text}]({target.removeprefix('docs/')})"
    return text  # outside docs/: not on the site


def front_page(readme: str) -> str:
    """The README's Markdown with its links made the site's."""
    return LINK.sub(site_link, readme)


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add the front page, ``index.md``, made from README.md."""
    files.append(File.generated(config, "index.md",
                                content=front_page(README.read_text(encoding="utf-8"))))
    return files
