"""The board pack: a run's summary and leadership pages printed to one PDF by Debian's Chromium.

Chromium is driven through Playwright, which downloads no browser here: the system's
``/usr/bin/chromium`` is launched with the flags a closed network needs (no background
networking, component updates or sync). The same launcher takes the README's screenshot of the
summary page and serves the browser tests.
"""
from __future__ import annotations

from pathlib import Path

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "INSTALL_HINT"]

#: Debian's Chromium (``apt-get install chromium``; ``make system-packages`` installs it).
CHROMIUM = Path("/usr/bin/chromium")
#: Headless, sandbox-free (root in CI) and silent on the network: nothing is fetched at start.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
INSTALL_HINT = "install it with `make system-packages` (or `make test-system`), or `apt-get install chromium` (Debian)"
