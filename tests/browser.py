#!/usr/bin/python3
"""Check a gradsweep HTML report in a real browser (headless Chromium).

Usage: /usr/bin/python3 tests/browser.py INDEX.html [SCREENSHOT.png]
                                         [--expect-text TEXT]...

Opens INDEX.html from disk (a file:// URL, no network) with Selenium and
Debian's chromium / chromium-driver, and prints TAP, one line per check:

  - the page loads, and no JavaScript dialog (alert, confirm) pops up: a
    dialog would mean that some text of the sweep reached the page unescaped;
  - every <img> has loaded (complete, naturalWidth > 0); broken ones are
    named by src;
  - every <img> src is a relative path (the page is self-contained), at
    least one of them under charts/;
  - the page fetched nothing but file: and data: URLs;
  - each --expect-text TEXT appears verbatim in the rendered page text;
  - in table#all-runs, a numeric column is found (data-value or cell text,
    at least 2 rows); clicking its <th> sorts the rows ascending, clicking
    again descending, and the rows are the same ones before and after
    (same count, same contents);
  - the screenshot (window 1400 wide, as tall as the page up to 8000 px) is
    written, when a path was given;
  - the browser console holds no SEVERE entry (uncaught exceptions, failed
    loads, console.error), over the load and the clicks.

Exits 0 when every check passed, 1 otherwise. Prints "1..0 # SKIP" and
exits 0 when the selenium module is missing.
"""

import argparse
import os
import re
import shutil
import signal
import sys
import tempfile
import time

try:
    from selenium import webdriver
    from selenium.common.exceptions import (
        ElementClickInterceptedException,
        ElementNotInteractableException,
        NoAlertPresentException,
        WebDriverException,
    )
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.remote.remote_connection import RemoteConnection
except ImportError as err:
    print("1..0 # SKIP python3 selenium module missing (%s); "
          "apt-get install chromium chromium-driver python3-selenium" % err)
    sys.exit(0)

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WIDTH, HEIGHT = 1400, 1000
MAX_SCREENSHOT_HEIGHT = 8000
TIMEOUT = 60            # seconds: page load, scripts, one driver request
WATCHDOG = 300          # seconds: the whole run, should Chromium hang

# A number as the report writes it: plain decimal or exponent notation.
NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")

# JavaScript: for table#all-runs, per body row, the cell under each header
# column (colspan taken into account): [data-value or null, text].
# Returns {error} when the table is missing or has no header.
JS_READ_TABLE = r"""
const table = document.querySelector('table#all-runs');
if (!table) return {error: 'no table#all-runs in the page'};
if (!table.classList.contains('sortable'))
    return {error: 'table#all-runs lacks class="sortable"'};
const head = table.tHead;
if (!head || head.rows.length === 0)
    return {error: 'table#all-runs has no <thead> row'};
const hrow = head.rows[head.rows.length - 1];
const headers = [];        // [label, first column] of each <th>
let col = 0;
for (const c of hrow.cells) {
    if (c.tagName === 'TH') headers.push([c.textContent.trim(), col]);
    col += c.colSpan || 1;
}
const rows = [];
for (const body of table.tBodies)
    for (const r of body.rows) {
        const cells = {};
        let k = 0;
        for (const c of r.cells) {
            cells[k] = [c.getAttribute('data-value'), c.textContent.trim()];
            k += c.colSpan || 1;
        }
        rows.push({cells: cells, text: r.textContent});
    }
return {headers: headers, rows: rows};
"""

# JavaScript: the state of every <img>, and every resource URL fetched.
JS_IMAGES = r"""
return Array.from(document.images).map(i => ({
    src: i.getAttribute('src'), url: i.currentSrc || i.src,
    complete: i.complete, width: i.naturalWidth}));
"""
JS_RESOURCES = r"""
return performance.getEntriesByType('resource').map(e => e.name);
"""


class Tap:
    """Numbered TAP lines; remembers whether any check failed."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def check(self, passed, name, diagnostics=()):
        self.n += 1
        if not passed:
            self.failed += 1
        print("%s %d - %s" % ("ok" if passed else "not ok", self.n, name))
        for line in diagnostics:
            print("# " + line)
        sys.stdout.flush()
        return passed

    def finish(self):
        print("1..%d" % self.n)
        return 1 if self.failed else 0


def as_number(text):
    """The float value of a plain decimal/exponent number, else None."""
    if text is None:
        return None
    text = text.strip()
    return float(text) if NUMBER.match(text) else None


def sort_value(cell):
    """A cell's numeric sort value per the contract: data-value when it
    parses as a number, else the cell text when it does; else None."""
    data_value, text = cell
    value = as_number(data_value)
    return value if value is not None else as_number(text)


def start_browser(profile):
    """Headless Chromium through chromedriver, with a fresh profile."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu",
                 "--disable-quic", "--no-first-run",
                 "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 "--allow-file-access-from-files",
                 "--disable-dev-shm-usage",   # small /dev/shm in containers
                 "--user-data-dir=" + profile,
                 "--window-size=%d,%d" % (WIDTH, HEIGHT)):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # Leave dialogs open so that we can see them, rather than having every
    # later command fail with UnexpectedAlertPresentException.
    options.set_capability("unhandledPromptBehavior", "ignore")
    # chromedriver waits up to 60 s for Chromium; wait longer than that.
    RemoteConnection.set_timeout(2 * TIMEOUT)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(TIMEOUT)
    driver.set_script_timeout(TIMEOUT)
    driver.set_window_size(WIDTH, HEIGHT)
    return driver


def dismiss_dialogs(driver):
    """Close any open JavaScript dialogs; return their texts."""
    texts = []
    for _ in range(20):
        try:
            alert = driver.switch_to.alert
            texts.append(alert.text)
            alert.dismiss()
        except NoAlertPresentException:
            break
    return texts


def check_images(tap, driver):
    """Every <img> loaded; every src relative, at least one under charts/."""
    # Lazy images load only once near the viewport: scroll each one into
    # view and give them all up to TIMEOUT seconds to finish.
    deadline = time.time() + TIMEOUT
    while True:
        images = driver.execute_script(JS_IMAGES)
        pending = [i for i, img in enumerate(images) if not img["complete"]]
        if not pending or time.time() > deadline:
            break
        for i in pending:
            driver.execute_script(
                "document.images[arguments[0]].scrollIntoView()", i)
        time.sleep(0.2)
    driver.execute_script("window.scrollTo(0, 0)")
    broken = [img for img in images
              if not img["complete"] or img["width"] <= 0]
    tap.check(images and not broken,
              "every <img> loaded (%d images, %d broken)"
              % (len(images), len(broken)),
              ["no <img> in the page"] if not images else
              ["broken: %s (complete=%s naturalWidth=%s)"
               % (img["src"], img["complete"], img["width"])
               for img in broken])

    absolute = [img["src"] for img in images
                if not img["src"] or img["src"].startswith("/")
                or re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", img["src"])
                and not img["src"].startswith("data:")]
    charts = [img["src"] for img in images
              if img["src"] and img["src"].startswith("charts/")]
    tap.check(not absolute and charts,
              "every <img> src is relative, %d under charts/" % len(charts),
              ["not relative: %r" % src for src in absolute]
              + ([] if charts else ["no <img> src under charts/"]))


def check_resources(tap, driver):
    """Nothing was fetched but file: and data: URLs."""
    urls = driver.execute_script(JS_RESOURCES)
    remote = [u for u in urls if not u.startswith(("file:", "data:"))]
    tap.check(not remote,
              "self-contained: %d resources, all file: or data:" % len(urls),
              ["fetched: " + u for u in remote])


def wait_for(predicate, seconds=3.0):
    """Poll predicate() until it is true or seconds pass; its last value."""
    deadline = time.time() + seconds
    while True:
        value = predicate()
        if value or time.time() > deadline:
            return value
        time.sleep(0.1)


def click(driver, element):
    """A real mouse click; a JavaScript click if something covers it."""
    try:
        element.click()
    except (ElementClickInterceptedException,
            ElementNotInteractableException) as err:
        print("# a real click failed (%s); clicking from JavaScript"
              % (str(err).strip().splitlines() or ["?"])[0])
        driver.execute_script("arguments[0].click()", element)


def check_sorting(tap, driver):
    """Sort table#all-runs by a numeric column, ascending then descending."""
    table = driver.execute_script(JS_READ_TABLE)
    rows = table.get("rows", [])
    if "error" in table or len(rows) < 2:
        tap.check(False, "table#all-runs: a numeric column to sort by",
                  [table.get("error") or "fewer than 2 rows in its <tbody>"])
        return

    # Every row has as many cells as the header has columns: a header
    # written as text, or a missing cell, would shift the columns.
    width = sum(1 for _ in table["headers"])
    short = [i for i, r in enumerate(rows) if len(r["cells"]) != width]
    tap.check(not short, "table#all-runs: every row has the header's %d columns" % width,
              ["row %d has %d cells" % (i, len(rows[i]["cells"])) for i in short[:5]])

    # The numeric columns, best first: one where sorting the cell texts as
    # strings would give a wrong numeric order (so a string sort fails),
    # then one not already in ascending order (so a click that does nothing
    # fails), then one with two distinct values; the leftmost among equals.
    candidates = []
    for index, (label, col) in enumerate(table["headers"]):
        cells = [r["cells"].get(str(col), (None, "")) for r in rows]
        values = [sort_value(c) for c in cells]
        if any(v is None for v in values):
            continue
        by_text = [v for _, v in sorted(zip((c[1] for c in cells), values))]
        rank = (0 if by_text != sorted(values) and values != sorted(values)
                else 1 if values != sorted(values)
                else 2 if len(set(values)) > 1 else 3)
        candidates.append((rank, index, label, col))
    if not tap.check(bool(candidates),
                     "table#all-runs: a numeric column among %d, %d rows"
                     % (len(table["headers"]), len(rows)),
                     [] if candidates else
                     ["no numeric column among %s"
                      % [h[0] for h in table["headers"]]]):
        return
    _, index, label, col = min(candidates)
    print("# sorting by column %d %r" % (col, label))

    def column():
        now = driver.execute_script(JS_READ_TABLE)["rows"]
        return now, [sort_value(r["cells"].get(str(col), (None, "")))
                     for r in now]

    def ordered(values, descending):
        if any(v is None for v in values):
            return False
        pairs = zip(values, values[1:])
        return all(a >= b if descending else a <= b for a, b in pairs)

    before = sorted(r["text"] for r in rows)
    for descending, what in ((False, "ascending"), (True, "descending")):
        # Found again for each click: a script may have redrawn the table.
        header = driver.find_elements(
            "css selector",
            "table#all-runs > thead > tr:last-child > th")[index]
        click(driver, header)
        wait_for(lambda: ordered(column()[1], descending))
        now, values = column()
        shown = ", ".join("%g" % v if v is not None else "?"
                          for v in values[:12])
        tap.check(ordered(values, descending),
                  "click %d on %r sorts table#all-runs %s"
                  % (1 + descending, label, what),
                  ["values: " + shown + (" ..." if len(values) > 12 else "")])
        tap.check(len(now) == len(rows) and sorted(r["text"] for r in now)
                  == before,
                  "after click %d the same %d rows (now %d)"
                  % (1 + descending, len(rows), len(now)))


def take_screenshot(tap, driver, path):
    """The page at width 1400, as tall as its content (up to 8000 px)."""
    height, overhead = driver.execute_script(
        "return [Math.max(document.documentElement.scrollHeight,"
        " document.body ? document.body.scrollHeight : 0),"
        " window.outerHeight - window.innerHeight]")
    # The window includes some browser UI even headless: add its height so
    # that the viewport, not the window, is as tall as the page.
    driver.set_window_size(WIDTH, max(HEIGHT, min(height + max(overhead, 0),
                                                  MAX_SCREENSHOT_HEIGHT)))
    driver.execute_script("window.scrollTo(0, 0)")
    saved = driver.save_screenshot(path)
    with open(path, "rb") as f:
        is_png = f.read(8) == b"\x89PNG\r\n\x1a\n"
    tap.check(saved and is_png, "screenshot %s (page height %d px)"
              % (path, height))


def check_console(tap, entries):
    """No SEVERE entry in the console log."""
    severe = [e for e in entries if e.get("level") == "SEVERE"]
    for e in entries:
        if e.get("level") != "SEVERE":
            print("# console %s: %s" % (e.get("level"), e.get("message")))
    tap.check(not severe, "no console errors (%d entries, %d SEVERE)"
              % (len(entries), len(severe)),
              ["%s: %s" % (e.get("level"), e.get("message"))
               for e in severe])


def run_checks(tap, driver, args):
    """Every check, in order; the console is read at the end."""
    url = "file://" + os.path.abspath(args.index)
    driver.get(url)
    dialogs = dismiss_dialogs(driver)
    title = driver.title
    tap.check(not dialogs, "page loads (title %r), no JavaScript dialog"
              % title, ["dialog: %r (unescaped text?)" % d for d in dialogs])
    console = driver.get_log("browser")

    check_images(tap, driver)
    check_resources(tap, driver)
    if args.expect_text:
        text = driver.execute_script("return document.body.innerText")
        for expected in args.expect_text:
            tap.check(expected in text, "page text shows %r" % expected)
    check_sorting(tap, driver)
    if args.screenshot:
        take_screenshot(tap, driver, args.screenshot)

    dialogs = dismiss_dialogs(driver)
    tap.check(not dialogs, "no JavaScript dialog after the clicks",
              ["dialog: %r" % d for d in dialogs])
    console += driver.get_log("browser")
    check_console(tap, console)


def on_watchdog(signum, frame):
    raise TimeoutError("still running after %d s" % WATCHDOG)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index", help="the report's index.html")
    parser.add_argument("screenshot", nargs="?",
                        help="write a PNG screenshot of the page here")
    parser.add_argument("--expect-text", action="append", default=[],
                        metavar="TEXT",
                        help="TEXT must appear in the page (repeatable)")
    args = parser.parse_args()

    tap = Tap()
    if not tap.check(os.path.isfile(args.index), "%s exists" % args.index):
        return tap.finish()
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            print("1..0 # SKIP %s missing; apt-get install chromium "
                  "chromium-driver python3-selenium" % path)
            return 0

    signal.signal(signal.SIGALRM, on_watchdog)
    signal.alarm(WATCHDOG)
    profile = tempfile.mkdtemp(prefix="gs_chromium.")
    driver = None
    try:
        try:
            driver = start_browser(profile)
        except WebDriverException as err:
            tap.check(False, "start headless Chromium",
                      str(err).strip().splitlines()[:20])
            return tap.finish()
        run_checks(tap, driver, args)
    except (WebDriverException, TimeoutError) as err:
        # Anything unexpected: one failing line that says what happened.
        tap.check(False, "browser session: %s" % type(err).__name__,
                  str(err).strip().splitlines()[:20])
    finally:
        signal.alarm(0)
        if driver is not None:
            try:
                driver.quit()
            except Exception as err:    # never mask the checks' outcome
                print("# driver.quit: %s" % err)
        shutil.rmtree(profile, ignore_errors=True)
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
