"""The board pack: a run's summary and leadership pages printed to one PDF by Debian's Chromium.

Chromium is driven through Playwright, which downloads no browser here: the system's
``/usr/bin/chromium`` is launched with the flags a closed network needs (no background
networking, component updates or sync). The same launcher takes the README's screenshot of the
summary page and serves the browser tests.
"""
from __future__ import annotations

import argparse
import contextlib
import html
import re
import sys
from pathlib import Path

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "INSTALL_HINT", "PAPER", "board_pack", "chromium", "latest_run", "main",
           "pack_html", "pack_pages", "print_pdf", "screenshot"]

#: Debian's Chromium (``apt-get install chromium``; ``make system-packages`` installs it).
CHROMIUM = Path("/usr/bin/chromium")
#: Headless, sandbox-free (root in CI) and silent on the network: nothing is fetched at start.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
INSTALL_HINT = "install it with `make system-packages` (or `make test-system`), or `apt-get install chromium` (Debian)"


def latest_run(out: str | Path) -> Path:
    """The newest published quarter under ``out`` (``OUT/<quarter>`` holding ``index.html``).

    Raises
    ------
    FileNotFoundError
        When ``out`` holds no published run (run ``make run OUT=...`` first).
    """
    out = Path(out)
    runs = sorted(d for d in out.glob("[0-9][0-9][0-9][0-9]Q[1-4]") if (d / "index.html").is_file()) if out.is_dir() else []
    if not runs:
        raise FileNotFoundError(f"no published run under {out} (a folder like {out}/2026Q3 with index.html): "
                                f"run `make run OUT={out}` first")
    return runs[-1]


_MAIN = re.compile(r"<main>(.*?)</main>", re.DOTALL)
_HREF = re.compile(r'href="(?:\.\./)?(?:leadership/)?(\d\d_[A-Za-z0-9_]+)\.html"')


def pack_pages(run_dir: Path) -> list[Path]:
    """The pages of the board pack in order: the summary, then each leadership page by number."""
    run_dir = Path(run_dir)
    return [run_dir / "index.html", *sorted((run_dir / "leadership").glob("[0-9][0-9]_*.html"))]


def pack_html(run_dir: Path) -> str:
    """One printable document: the summary and every leadership page, each from a new page.

    The pages' own content (``<main>``) is kept as it is, under the house stylesheet with its
    print rules (no navigation, rows and figures kept whole); links between pages become links
    within the document.
    """
    from . import report

    run_dir = Path(run_dir)
    sections = []
    for page in pack_pages(run_dir):
        m = _MAIN.search(page.read_text())
        if m is None:
            raise ValueError(f"{page}: no <main> element; not a page of the workbook")
        body = _HREF.sub(lambda h: f'href="#{h.group(1)}"', m.group(1))
        anchor = "summary" if page.name == "index.html" else page.stem
        sections.append(f'<section class="cs-section" id="{anchor}">{body}</section>')
    title = html.escape(f"Board pack · {run_dir.name}")
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f"<style>{report.CSS}</style></head><body><main>{''.join(sections)}</main></body></html>")


@contextlib.contextmanager
def chromium():
    """Debian's Chromium, headless, through Playwright (a browser is never downloaded)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # a dependency of the workbook (requirements.txt)
        raise RuntimeError(f"the playwright package is missing ({exc}): `pip install -r requirements.txt`") from exc
    if not CHROMIUM.exists():
        raise RuntimeError(f"Chromium is needed at {CHROMIUM}: {INSTALL_HINT}")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


#: Paper and margins of the board pack (the house stylesheet's ``@page`` says the same for Ctrl+P).
PAPER = {"format": "A4", "margin": {"top": "14mm", "bottom": "16mm", "left": "12mm", "right": "12mm"}}


def board_pack(run_dir: str | Path, pdf: str | Path | None = None, browser=None) -> Path:
    """Print a run's summary and leadership pages to one PDF with Chromium: ``<run>/board_pack.pdf``.

    Parameters
    ----------
    run_dir : str or Path
        A published run, ``OUT/<quarter>``.
    pdf : str or Path, optional
        Where to write; default ``run_dir / "board_pack.pdf"``.
    browser : playwright Browser, optional
        An open browser to reuse; by default Debian's Chromium is launched for the job.

    Returns
    -------
    Path
        The PDF: A4, the summary first, then the leadership pages in order, each from a new page;
        a footer with the run and the page number.
    """
    run_dir = Path(run_dir)
    pdf = Path(pdf) if pdf else run_dir / "board_pack.pdf"
    if browser is None:
        with chromium() as b:
            return board_pack(run_dir, pdf, b)
    return print_pdf(pack_html(run_dir), pdf, browser, label=f"Client strategy · {run_dir.name}")


def print_pdf(document: str, pdf: str | Path, browser, label: str = "") -> Path:
    """Print an HTML document with Chromium's print (print media, A4, :data:`PAPER` margins) to ``pdf``.

    Every page gets a footer: ``label`` on the left, ``page n of N`` on the right; the headings
    become the PDF's bookmarks (a reader jumps to any page from its outline).
    """
    pdf = Path(pdf)
    footer = ('<div style="font-size:8px;color:#5f6b7a;width:100%;margin:0 12mm;display:flex;'
              f'justify-content:space-between;font-family:sans-serif"><span>{html.escape(label)}</span>'
              '<span>page <span class="pageNumber"></span> of <span class="totalPages"></span></span></div>')
    context = browser.new_context(offline=True)
    try:
        page = context.new_page()
        page.set_content(document, wait_until="load")
        page.emulate_media(media="print")
        tmp = pdf.with_name(f".{pdf.name}.part")
        page.pdf(path=str(tmp), print_background=True, display_header_footer=True, outline=True, tagged=True,
                 header_template="<span></span>", footer_template=footer, **PAPER)  # outline: bookmarks of headings
        tmp.replace(pdf)  # a reader never sees half a file
    finally:
        context.close()
    return pdf


def screenshot(page_path: str | Path, png: str | Path, width: int = 1280, height: int = 1120, browser=None) -> Path:
    """A PNG of the top of a page as a reader's browser shows it (the README's picture of the summary)."""
    png = Path(png)
    if browser is None:
        with chromium() as b:
            return screenshot(page_path, png, width, height, b)
    context = browser.new_context(viewport={"width": width, "height": height}, offline=True)
    try:
        page = context.new_page()
        page.goto(Path(page_path).resolve().as_uri(), wait_until="load")
        png.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(png), full_page=False)
    finally:
        context.close()
    return png


def main(argv=None) -> int:
    """``python -m clientstrategy.boardpack pdf|screenshot --out OUT [--png FILE]``."""
    parser = argparse.ArgumentParser(prog="python -m clientstrategy.boardpack", description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["pdf", "screenshot"], help="pdf: OUT/<quarter>/board_pack.pdf of the latest "
                        "run; screenshot: a PNG of its summary page")
    parser.add_argument("--out", default="reports", help="the runs' output folder (make's OUT)")
    parser.add_argument("--png", default="docs/img/summary.png", help="where the screenshot goes")
    args = parser.parse_args(argv)
    try:
        run = latest_run(args.out)
        done = board_pack(run) if args.what == "pdf" else screenshot(run / "index.html", args.png)
    except (FileNotFoundError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Wrote {done}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
