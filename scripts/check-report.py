#!/usr/bin/env python3
"""Checks an odl lab report in headless Chromium.

    scripts/check-report.py lab-report/index.html

Loads the page in Debian's chromium (headless, no network), fails if the
browser logs any console message (the page has no scripts, so any message is
an error), and checks the rendered DOM: every experiment section is present,
and every <figure> holds an <svg> with drawn content (lines, markers or
cells). Exit status 0 when all is well, 1 otherwise.
"""
import html.parser
import os
import shutil
import subprocess
import sys
import tempfile


class Figures(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.figures = []  # per figure: count of drawn elements
        self.depth = 0
        self.sections = 0

    def handle_starttag(self, tag, attrs):
        if tag == "figure":
            self.figures.append(0)
            self.depth += 1
        elif self.depth and tag in ("polyline", "path", "circle", "rect", "line"):
            self.figures[-1] += 1
        elif tag == "h2" and dict(attrs).get("id"):
            self.sections += 1

    def handle_endtag(self, tag):
        if tag == "figure":
            self.depth -= 1


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    page = os.path.abspath(sys.argv[1])
    if not os.path.exists(page):
        print(f"{page}: no such file")
        return 1
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        print("chromium is not installed (apt-get install chromium)")
        return 1
    with tempfile.TemporaryDirectory() as profile:
        cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", "--dump-dom", "file://" + page]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    console = [l for l in out.stderr.splitlines() if "CONSOLE" in l]
    problems = []
    if out.returncode != 0:
        problems.append(f"chromium exited with {out.returncode}: {out.stderr[-500:]}")
    problems += [f"console: {l}" for l in console]
    f = Figures()
    f.feed(out.stdout)
    if f.sections == 0:
        problems.append("no experiment sections in the rendered page")
    if not f.figures:
        problems.append("no figures in the rendered page")
    for i, n in enumerate(f.figures):
        if n < 5:
            problems.append(f"figure {i + 1} has no drawn content ({n} elements)")
    for p in problems:
        print("FAIL", p)
    print(f"{len(f.figures)} figures in {f.sections} sections, {len(console)} console messages")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
