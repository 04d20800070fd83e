"""A screenshot of a sweep's explorer.html, as docs/sweep.md shows it.

    python benchmarks/explorer_shot.py SWEEP [--task TASK] [--models A,B,...] [--out PNG]

Opens SWEEP/explorer.html from disk in headless Chromium (the distribution's package,
driven by Playwright), keeps only MODELS ticked (default: all) by clicking the
checkboxes, clicks the heatmap's cell of the first model on TASK, as a user
would, and saves what the window shows. ``make test`` installs both.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep", type=Path)
    parser.add_argument("--task", help="the task whose curves to draw (default: the first)")
    parser.add_argument("--models", help="the models to keep, comma-separated (default: all)")
    parser.add_argument("--out", type=Path, default=Path("docs/explorer.png"))
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=1500)
    args = parser.parse_args()
    page_path = (args.sweep / "explorer.html").resolve()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not page_path.exists() or chromium is None:
        print(f"explorer_shot: error: needs {page_path} and Chromium", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": args.width, "height": args.height})
        page.goto(page_path.as_uri())
        page.wait_for_function("window.explorer !== undefined")
        if args.models:
            page.locator("#models button", has_text="none").click()
            for name in args.models.split(","):
                page.locator(f"#models input[data-name='{name}']").check()
        tasks = page.evaluate("window.explorer.DATA.tasks.map((t) => t.name)")
        if args.task and args.task not in tasks:
            print(f"explorer_shot: error: no task {args.task!r} in {page_path}", file=sys.stderr)
            return 2
        task = tasks.index(args.task) if args.task else 0
        page.mouse.click(*page.evaluate("(t) => window.explorer.cellCentre(0, t)", task))
        page.wait_for_timeout(300)
        page.screenshot(path=str(args.out))  # the window: the heatmap and the curves
        browser.close()
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
