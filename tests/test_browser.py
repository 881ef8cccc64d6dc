"""A published run as leadership sees it: every page opened in headless Chromium.

The workbook runs once on the small sample in which the largest client is named
``<script>alert(1)</script>``; ``index.html`` and every leadership page are then opened from disk
(``file://``) in Debian's Chromium, driven by Playwright (no browser is downloaded: the system's
``/usr/bin/chromium`` is used). The pages must load cleanly (no console or page error, no dialog,
no request leaving the run's folder), show every figure, keep their tables readable, share one
style and navigation, and show the injected name as text. A full-page screenshot of each page is
kept in pytest's temporary folder. The summary opens with the quarter at a glance and the plan
bridge. The board pack (``make pdf``) is printed from the same run by the same Chromium and read
back with pypdf: its page count, text on every page, the pages in order, and no table row split
across two pages (checked against the rows of the printed document; a control document whose rows
are allowed to break shows that the check finds splits).

Without Chromium or Playwright these tests skip (``make test-system`` installs them); with
``CLIENTSTRATEGY_SYSTEM_TESTS=required`` (CI) they fail instead.
"""
from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pandas as pd
import pytest

from clientstrategy import boardpack, paths, report, runner
from clientstrategy.boardpack import CHROMIUM, CHROMIUM_ARGS, INSTALL_HINT

VIEWPORT = {"width": 1280, "height": 800}
PAYLOAD = "<script>alert(1)</script>"
NOTEBOOKS = sorted(p.stem for p in paths.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
PAGES = ["index", *NOTEBOOKS]
MIN_FONT_PX = 11

# What the page looks like from inside: figures, tables, links, style, layout.
_INSPECT = r"""payload => {
  const visible = el => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  const scroller = el => {  // the nearest ancestor that clips or scrolls horizontally
    for (let box = el.parentElement; box && box !== document.body; box = box.parentElement) {
      const o = getComputedStyle(box).overflowX;
      if (o === 'auto' || o === 'scroll' || o === 'hidden') return box.getBoundingClientRect();
    }
    return null;
  };
  const number = /^[-+\u2212]?[$\u20ac\u00a3]?\d[\d,]*(\.\d+)?\s*(%|pp|x|k|m|bn)?$/i;
  const tables = [...document.querySelectorAll('main table')].map(t => {
    const r = t.getBoundingClientRect(), clip = scroller(t);
    const cells = [...t.querySelectorAll('td, th')];
    const words = [...t.querySelectorAll('td')].filter(c => c.innerText.trim() && !number.test(c.innerText.trim()));
    return {rows: t.rows.length, cells: cells.length, text: t.innerText.trim().length, visible: visible(t),
            font: Math.min(...cells.map(c => parseFloat(getComputedStyle(c).fontSize))),
            right: r.right, clip_right: clip ? clip.right : null,
            text_right_aligned: words.filter(c => getComputedStyle(c).textAlign === 'right')
                                     .map(c => c.innerText.trim()).slice(0, 3)};
  });
  const payloadAt = [];  // every element whose own text holds the payload: its tag and visibility
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (n.nodeValue.includes(payload)) payloadAt.push({tag: n.parentElement.tagName.toLowerCase(),
                                                        visible: visible(n.parentElement)});
  }
  const header = document.querySelector('header.cs-top');
  return {
    title: document.title,
    text: document.body.innerText,
    images: [...document.images].map(i => ({src: i.getAttribute('src').slice(0, 30), complete: i.complete,
                                              width: i.naturalWidth, shown: i.getBoundingClientRect().width})),
    tables,
    payload_at: payloadAt,
    scripts: document.querySelectorAll('script').length,
    style: [...document.querySelectorAll('style')].map(s => s.textContent).join("\n"),
    external_sheets: document.querySelectorAll('link[rel="stylesheet"]').length,
    links: [...document.querySelectorAll('a[href]')].map(a => ({href: a.href, label: a.innerText.trim(),
                                                                  nav: !!a.closest('header.cs-top nav')})),
    nav_wrapped: [...document.querySelectorAll('header.cs-top nav a')]  // a label broken over two lines
      .filter(a => a.getBoundingClientRect().height > 1.9 * parseFloat(getComputedStyle(a).fontSize))
      .map(a => a.innerText),
    body_font: getComputedStyle(document.body).fontFamily,
    header_background: header ? getComputedStyle(header).backgroundColor : null,
    scroll_width: document.documentElement.scrollWidth,
    viewport_width: window.innerWidth,
  };
}"""


@dataclass
class Visit:
    """What one page did in the browser and what it holds."""

    name: str
    path: Path
    console_errors: list = field(default_factory=list)
    page_errors: list = field(default_factory=list)
    dialogs: list = field(default_factory=list)
    failed_requests: list = field(default_factory=list)
    requests: list = field(default_factory=list)
    dom: dict = field(default_factory=dict)
    screenshot: Path | None = None

    @property
    def nav(self) -> list:
        return [a for a in self.dom["links"] if a["nav"]]


def _path_of(url: str) -> Path | None:
    """The file a ``file://`` URL points at (without its #fragment), or None for another scheme."""
    parts = urlsplit(url)
    return Path(unquote(parts.path)) if parts.scheme == "file" else None


@pytest.fixture(scope="module")
def chromium(system_requirement):
    """Debian's Chromium, launched headless through Playwright; closed at teardown."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        system_requirement(f"the browser tests need the playwright package ({exc}); "
                           "`pip install -r requirements.txt` installs it")
    if not CHROMIUM.exists():
        system_requirement(f"the browser tests need Chromium at {CHROMIUM}; {INSTALL_HINT}")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def browser_run(small_sample, tmp_path_factory) -> Path:
    """One workbook run on the small sample whose largest client is named ``<script>alert(1)</script>``."""
    data = tmp_path_factory.mktemp("browser-sample")
    for f in Path(small_sample).glob("*.parquet"):
        shutil.copy(f, data / f.name)
    revenue = pd.read_parquet(data / "revenue.parquet")
    largest = revenue.groupby("client_id")["amount"].sum().idxmax()
    clients = pd.read_parquet(data / "clients.parquet")
    clients.loc[clients["client_id"] == largest, "client_name"] = PAYLOAD
    clients.to_parquet(data / "clients.parquet", index=False)
    return runner.run(runner.RunConfig(data=str(data), out=tmp_path_factory.mktemp("browser-run"), progress=False))


def _visit(browser, name: str, path: Path, shots: Path) -> Visit:
    v = Visit(name=name, path=path)
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.on("console", lambda m: v.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: v.page_errors.append(str(e)))
    page.on("request", lambda r: v.requests.append(r.url))
    page.on("requestfailed", lambda r: v.failed_requests.append(f"{r.url}: {r.failure}"))

    def on_dialog(dialog):
        v.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    try:
        page.goto(path.as_uri(), wait_until="load")
        page.wait_for_load_state("networkidle")
        v.dom = page.evaluate(_INSPECT, PAYLOAD)
        v.screenshot = shots / f"{name}.png"
        page.screenshot(path=str(v.screenshot), full_page=True)
    finally:
        context.close()
    return v


@pytest.fixture(scope="module")
def visits(chromium, browser_run, tmp_path_factory) -> dict:
    """Every page of the run (``index`` and each leadership page) opened once: name -> Visit."""
    shots = tmp_path_factory.mktemp("screenshots")
    pages = {"index": browser_run / "index.html"}
    pages.update({p.stem: p for p in sorted((browser_run / "leadership").glob("*.html"))})
    return {name: _visit(chromium, name, path, shots) for name, path in pages.items()}


@pytest.mark.slow
def test_every_notebook_has_a_page(visits):
    assert list(visits) == PAGES


@pytest.mark.slow
@pytest.mark.parametrize("name", PAGES)
def test_page_loads_cleanly_and_offline(visits, browser_run, name):
    v = visits[name]
    assert v.console_errors == [] and v.page_errors == []
    assert v.dialogs == [], "a dialog fired: injected script ran"
    assert v.failed_requests == []
    outside = [u for u in v.requests if not u.startswith("data:")
               and not (_path_of(u) and _path_of(u).is_relative_to(browser_run))]
    assert outside == [], "the page asked for something outside the run's folder"
    assert v.dom["scripts"] == 0, "a leadership page carries a <script> element"


@pytest.mark.slow
@pytest.mark.parametrize("name", PAGES)
def test_page_figures_load_and_tables_are_readable(visits, name):
    dom = visits[name].dom
    broken = [i["src"] for i in dom["images"] if not (i["complete"] and i["width"] > 0)]
    assert broken == [], "images that did not load"
    assert all(i["src"].startswith("data:image/") for i in dom["images"]), "figures must be embedded"
    assert all(0 < i["shown"] <= dom["viewport_width"] for i in dom["images"]), "a figure is hidden or too wide"
    shown = [t for t in dom["tables"] if t["visible"]]
    if name in ("index", "01_outcomes"):
        assert shown, "this page should show tables"
    for t in shown:
        assert t["rows"] >= 2 and t["cells"] >= 2 and t["text"] > 0, "an empty table"
        assert t["font"] >= MIN_FONT_PX, f"table text of {t['font']}px is too small to read"
        fits = t["right"] <= dom["viewport_width"] + 1 or (
            t["clip_right"] is not None and t["clip_right"] <= dom["viewport_width"] + 1)
        assert fits, f"a table runs {t['right'] - dom['viewport_width']:.0f}px past the window, unscrollable"
        assert t["text_right_aligned"] == [], "text cells are right-aligned (hard to read when they wrap)"
    assert dom["scroll_width"] <= dom["viewport_width"] + 1, "the page scrolls sideways"


@pytest.mark.slow
def test_every_page_shares_one_style_and_navigation(visits):
    index = visits["index"].dom
    assert index["style"].strip() and index["external_sheets"] == 0, "the house style is embedded"
    expected_nav = [a["href"] for a in visits["index"].nav]
    for name, v in visits.items():
        assert v.dom["style"] == index["style"], f"{name} has another stylesheet"
        assert (v.dom["body_font"], v.dom["header_background"]) == (index["body_font"], index["header_background"])
        assert [a["href"] for a in v.nav] == expected_nav, f"{name}: navigation differs from the index's"
        assert v.nav[0]["label"] == "Summary" and _path_of(v.nav[0]["href"]) == visits["index"].path
        assert v.dom["title"].strip()
        assert v.dom["nav_wrapped"] == [], f"{name}: navigation labels break over two lines"


@pytest.mark.slow
def test_every_link_resolves(visits, browser_run):
    linked = {_path_of(a["href"]) for a in visits["index"].dom["links"]}
    assert {v.path for v in visits.values()} <= linked, "the index links to every page"
    for name, v in visits.items():
        dead = [a["href"] for a in v.dom["links"] if _path_of(a["href"]) is not None and not _path_of(a["href"]).exists()]
        assert dead == [], f"{name} links to missing files"
        assert all(_path_of(a["href"]) for a in v.dom["links"]), f"{name} links outside the run"


@pytest.mark.slow
def test_navigation_by_clicking(chromium, visits):
    page = chromium.new_context(viewport=VIEWPORT).new_page()
    try:
        page.goto(visits["index"].path.as_uri())
        for name in NOTEBOOKS:
            page.locator("header.cs-top nav a", has_text=name[:2] + " ").first.click()
            assert _path_of(page.url) == visits[name].path
            page.locator("header.cs-top nav a", has_text="Summary").click()
            assert _path_of(page.url) == visits["index"].path
    finally:
        page.context.close()


@pytest.mark.slow
def test_injected_client_name_shows_as_text(visits):
    shown_at = {name: v.dom["payload_at"] for name, v in visits.items() if v.dom["payload_at"]}
    assert shown_at, "the client named <script>alert(1)</script> appears on no page"
    assert all(at["visible"] for found in shown_at.values() for at in found), shown_at
    assert all(PAYLOAD in visits[name].dom["text"] for name in shown_at)  # what a reader sees
    for name, v in visits.items():
        if PAYLOAD.replace("<", "&lt;").replace(">", "&gt;") in v.path.read_text():
            assert PAYLOAD in v.dom["text"], f"{name} holds the escaped name but does not show it"


@pytest.mark.slow
@pytest.mark.parametrize("name", PAGES)
def test_screenshot_is_a_real_page(visits, name):
    from PIL import Image, ImageStat

    shot = visits[name].screenshot
    assert shot.stat().st_size > 10_000
    with Image.open(shot) as img:
        assert img.width == VIEWPORT["width"] and img.height >= VIEWPORT["height"] * 0.5
        gray = img.convert("L")
        low, high = gray.getextrema()
        assert high - low > 100 and ImageStat.Stat(gray).stddev[0] > 5, "the page is (nearly) one colour"


# -- the summary page: the quarter at a glance ---------------------------------------------------------
@pytest.mark.slow
def test_summary_opens_with_the_quarter_at_a_glance_and_the_plan_bridge(visits):
    index = visits["index"]
    text = index.dom["text"]
    assert text.index("The quarter at a glance") < text.index("Executive summary")
    tiles = {a["label"].split("\n")[0]: a["href"] for a in index.dom["links"] if "\n" in a["label"]}
    for label, page in (("Revenue, last 12 months", "01_outcomes"), ("Active clients", "01_outcomes"),
                        ("Clients at risk", "01_outcomes"), ("Net Promoter Score", "04_voice"),
                        ("Bottom-up plan, next 12 months", "06_strategy"), ("Conversations recommended", "07_execution")):
        assert label in tiles, f"no figure {label!r} at a glance"
        assert _path_of(tiles[label]) == visits[page].path, f"{label} links to {tiles[label]}"
    assert "not measured" not in text.split("Executive summary")[0], "the sample measures every figure"
    assert "No earlier run under this output folder" in text  # a first run: changes appear from the next one
    bridge = [i for i in index.dom["images"] if i["src"].startswith("data:image/png")]
    assert len(bridge) == 1 and bridge[0]["width"] > 400, "the plan bridge figure of 06"


# -- the board pack ------------------------------------------------------------------------------------
_FOOTER = re.compile(r"Client strategy · \d{4}Q[1-4]\s*page (\d+) of (\d+)")
_ROWS = "() => [...document.querySelectorAll('main tr')].map(r => r.innerText)"


@dataclass
class Pack:
    path: Path
    pages: list  # text of each page
    sizes: list  # (width, height) of each page in points
    rows: list  # text of every table row of the printed document
    images: list = None  # figures on each page


def _read_pack(browser, pdf: Path, document: str) -> Pack:
    from pypdf import PdfReader

    reader = PdfReader(str(pdf))
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_content(document, wait_until="load")
        page.emulate_media(media="print")
        rows = page.evaluate(_ROWS)
    finally:
        context.close()
    return Pack(path=pdf, pages=[p.extract_text() or "" for p in reader.pages],
                sizes=[(float(p.mediabox.width), float(p.mediabox.height)) for p in reader.pages], rows=rows,
                images=[len(p.images) for p in reader.pages])


def split_rows(pack: Pack) -> list[str]:
    """Rows whose text is not whole on any one page of the PDF: split across a page break.

    Whitespace is ignored (the PDF's text breaks lines where the page wrapped them); a row that
    crosses a page break has its first part at the foot of one page and the rest at the head of
    the next, so its whole text is on neither.
    """
    pages = [re.sub(r"\s+", "", t) for t in pack.pages]
    return [r for r in pack.rows if (flat := re.sub(r"\s+", "", r)) and not any(flat in p for p in pages)]


@pytest.fixture(scope="module")
def pack(chromium, browser_run) -> Pack:
    pdf = boardpack.board_pack(browser_run, browser=chromium)
    assert pdf == browser_run / "board_pack.pdf"
    return _read_pack(chromium, pdf, boardpack.pack_html(browser_run))


@pytest.mark.slow
def test_board_pack_has_a4_pages_each_with_text_and_its_number(pack):
    n = len(pack.pages)
    assert len(PAGES) <= n <= 12 * len(PAGES), f"{n} pages for {len(PAGES)} sections"  # each section from a new page
    assert all(abs(w - 595.3) < 2 and abs(h - 841.9) < 2 for w, h in pack.sizes), "A4 portrait"
    for i, text in enumerate(pack.pages, start=1):
        m = _FOOTER.search(text)
        assert m and (int(m.group(1)), int(m.group(2))) == (i, n), f"page {i}: no footer 'page {i} of {n}'"
        body = _FOOTER.sub("", text).strip()
        # a page of figures (a tall chart kept whole) is a page of content; a blank page is not
        assert len(body) > 40 or pack.images[i - 1] > 0, f"page {i} has no text or figure but its footer: {body!r}"
    assert PAYLOAD in "".join(pack.pages), "the injected client name prints as text"


@pytest.mark.slow
def test_board_pack_is_the_summary_then_the_leadership_pages_in_order(pack, visits):
    from pypdf import PdfReader

    quarter = visits["index"].path.parent.name
    titles = [f"Client strategy · {quarter}"] + [visits[name].dom["title"].rsplit(" · ", 1)[0] for name in NOTEBOOKS]
    reader = PdfReader(str(pack.path))
    flat = lambda text: re.sub(r"\s+", "", text)  # a wrapped heading loses its space at the line break
    top = [(flat(o.title), reader.get_destination_page_number(o)) for o in reader.outline if not isinstance(o, list)]
    assert [t for t, _ in top] == [flat(t) for t in titles], "bookmarks: the summary, then pages 00 to 09 in order"
    starts = [n for _, n in top]
    assert starts[0] == 0 and starts == sorted(set(starts)), f"each section from a new page: {starts}"
    for title, n in top:  # each section begins its page: the page's text opens with the title
        assert flat(pack.pages[n]).startswith(title), title
    assert "09 Explorers" not in pack.pages[0][:300], "no navigation bar"


@pytest.mark.slow
def test_board_pack_splits_no_table_row(pack):
    assert len(pack.rows) > 100, "the pack's tables were not found"
    assert split_rows(pack) == [], "table rows cut across a page break"


@pytest.mark.slow
def test_split_row_check_finds_rows_that_break(chromium, tmp_path):
    """A control: the same check on a document whose tall rows may break does find the splits."""
    cell = lambda r, c: "<br>".join(f"r{r}c{c}w{k}" for k in range(14))
    table = "<table>" + "".join(f"<tr><td>{cell(r, 0)}</td><td>{cell(r, 1)}</td></tr>" for r in range(40)) + "</table>"
    head = f"<!DOCTYPE html><html><head><meta charset='utf-8'><style>{report.CSS}</style>"
    allowed = "<style>@media print { tr { break-inside: auto !important; page-break-inside: auto !important; } }</style>"
    for extra, expect_splits in (("", False), (allowed, True)):
        doc = f"{head}{extra}</head><body><main><h1>Control</h1>{table}</main></body></html>"
        pdf = boardpack.print_pdf(doc, tmp_path / f"control{bool(extra)}.pdf", chromium, label="Client strategy · 2026Q3")
        got = _read_pack(chromium, pdf, doc)
        assert len(got.pages) >= 3 and len(got.rows) == 40
        assert bool(split_rows(got)) == expect_splits, (extra, len(split_rows(got)))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["index", "01_outcomes"])
def test_printed_pages_have_no_navigation_bar(chromium, visits, name):
    page = chromium.new_context(viewport=VIEWPORT).new_page()
    try:
        page.goto(visits[name].path.as_uri())
        page.emulate_media(media="print")
        shown = page.evaluate("() => [...document.querySelectorAll('header.cs-top nav, footer')]"
                              ".map(e => getComputedStyle(e).display)")
        assert shown and set(shown) == {"none"}
    finally:
        page.context.close()
