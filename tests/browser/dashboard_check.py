#!/usr/bin/env python3
"""Drive the Portcullis live dashboard in headless Chromium (Selenium) and check it works.

Usage:
  dashboard_check.py --url http://127.0.0.1:PORT/admin/dashboard --token TOKEN --out DIR
                     [--expect-kind auth_brute_force ...] [--expect-text STR ...] [--timeout 90]

Steps (every wait is bounded):
  1. open the page without a token: login form shown, dashboard hidden      -> DIR/01-login.png
  2. submit "wrong-token": #login-error shown, dashboard still hidden        -> DIR/02-refused.png
  3. submit the real token: dashboard shown, the traffic chart has >= 5 points and >= 2 distinct
     nonzero data-last values were seen over time, the events table has rows -> DIR/03-live.png
  4. each --expect-kind appears as #anomalies li[data-kind=KIND]             -> DIR/04-anomaly.png
     (each --expect-text must appear in the events table's text, e.g. an XSS probe shown as text)
  5. no console errors (CSP violations, JS exceptions), no injected <img>/<script> in the page.
Prints one JSON line on stdout; exit 0 on success, 1 with a message on stderr on failure.
Env: CHROMIUM (default /usr/bin/chromium), CHROMEDRIVER (default /usr/bin/chromedriver).
"""
import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager try to download anything

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402


class CheckFailed(Exception):
    pass


# Console lines that are expected: the refused stream request of step 2 (and a stream cut by a
# reconnect) are logged by Chromium as network errors mentioning the events URL / status 401.
IGNORED = re.compile(r"dashboard/events|\b401\b|favicon", re.I)


def make_driver():
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    chromedriver = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
    for what, p in (("chromium", chromium), ("chromedriver", chromedriver)):
        if not os.access(p, os.X_OK):
            raise CheckFailed(f"{what} not found at {p} (run scripts/setup-browser.sh or set "
                              f"{what.upper()}=...)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              "--window-size=1400,1000", "--force-device-scale-factor=1", "--no-first-run",
              "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
              "--disable-sync", "--disable-component-update", "--hide-scrollbars", "--mute-audio"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=chromedriver, log_output=os.devnull)
    driver = webdriver.Chrome(service=service, options=opts)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(10)
    driver.set_window_size(1400, 1000)
    return driver


class Check:
    def __init__(self, args):
        self.args = args
        self.out = Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.driver = None
        self.logs = []  # every browser log entry seen
        self.shots = []

    # ---------------------------------------------------------------- helpers
    def js(self, script, *a):
        return self.driver.execute_script(script, *a)

    def displayed(self, css):
        els = self.driver.find_elements(By.CSS_SELECTOR, css)
        return bool(els) and els[0].is_displayed()

    def wait(self, what, cond, timeout, poll=0.25):
        deadline = time.monotonic() + timeout
        last_err = None
        while time.monotonic() < deadline:
            try:
                v = cond()
                if v:
                    return v
            except WebDriverException as e:  # element replaced mid-read etc.
                last_err = e
            time.sleep(poll)
        self.collect_logs()
        raise CheckFailed(f"timed out after {timeout:g}s waiting for {what}"
                          + (f" (last error: {last_err.msg})" if last_err else ""))

    def shot(self, name):
        p = self.out / name
        self.driver.save_screenshot(str(p))
        self.shots.append(str(p))

    def collect_logs(self):
        try:
            self.logs.extend(self.driver.get_log("browser"))
        except WebDriverException:
            pass

    def problems(self):
        bad = []
        for e in self.logs:
            msg = str(e.get("message", ""))
            csp = "Content Security Policy" in msg or "Refused to" in msg
            if csp or (e.get("level") == "SEVERE" and not IGNORED.search(msg)):
                bad.append(msg)
        return bad

    def submit_token(self, value):
        field = self.driver.find_element(By.ID, "token")
        field.clear()
        field.send_keys(value)
        self.driver.find_element(By.ID, "login-submit").click()

    # ---------------------------------------------------------------- steps
    def run(self):
        a = self.args
        d = self.driver = make_driver()

        # 1. no token
        d.get(a.url)
        self.wait("#login-form to be displayed", lambda: self.displayed("#login-form"), 15)
        if self.displayed("#dashboard"):
            raise CheckFailed("#dashboard is displayed before any login")
        if "token" in d.current_url.lower():
            raise CheckFailed(f"token-looking URL: {d.current_url}")
        self.shot("01-login.png")

        # 2. wrong token
        self.submit_token("wrong-token")
        self.wait("#login-error after a wrong token", lambda: self.displayed("#login-error"), 15)
        if self.displayed("#dashboard"):
            raise CheckFailed("#dashboard is displayed after a refused token")
        if not self.displayed("#login-form"):
            raise CheckFailed("#login-form not shown again after a refused token")
        if self.js("return sessionStorage.length") != 0:
            raise CheckFailed("sessionStorage not cleared after a refused token")
        self.shot("02-refused.png")
        self.collect_logs()

        # 3. right token, live updates
        self.submit_token(a.token)
        try:
            self.wait("#dashboard to be displayed after the right token", lambda: self.displayed("#dashboard"),
                      a.timeout)
        except CheckFailed as e:
            if self.displayed("#login-error"):
                e = CheckFailed(f"{e}; the page says: {d.find_element(By.ID, 'login-error').text}")
            raise e from None
        if a.token in d.current_url:
            raise CheckFailed("the token appears in the page URL")
        seen = []
        state = {}

        def live():
            s = self.js("""
                const c = document.querySelector('canvas#chart-traffic');
                return {points: +(c && c.getAttribute('data-points') || 0),
                        last: c && c.getAttribute('data-last'),
                        rows: document.querySelectorAll('#events tbody tr').length,
                        status: (document.getElementById('conn-status') || {}).textContent};""")
            state.update(s)
            try:
                last = float(s["last"])
            except (TypeError, ValueError):
                last = 0
            if last and last not in seen:
                seen.append(last)
            return s["points"] >= 5 and len(seen) >= 2 and s["rows"] > 0

        try:
            self.wait("live chart updates (>= 5 points, >= 2 distinct nonzero data-last) and event rows",
                      live, a.timeout, poll=0.5)
        except CheckFailed as e:
            raise CheckFailed(f"{e}; last state {state}, data-last values seen {seen}") from None
        time.sleep(0.3)  # let the frame that set the attributes finish painting
        self.shot("03-live.png")

        # 4. expected anomalies / texts
        kinds = []
        for kind in a.expect_kind:
            sel = f'#anomalies li[data-kind="{kind}"]'
            self.wait(f"anomaly {sel}", lambda: self.driver.find_elements(By.CSS_SELECTOR, sel), a.timeout)
            kinds.append(kind)
        for text in a.expect_text:
            self.wait(f"events table text {text!r}",
                      lambda: text in self.js("return document.querySelector('#events tbody').textContent"),
                      a.timeout)
        if a.expect_kind:
            self.js("document.getElementById('anomalies').scrollIntoView({block: 'center'})")
            time.sleep(0.3)
            self.shot("04-anomaly.png")
        self.full_page_shot("05-full.png")

        # 5. no XSS, no console errors
        injected = self.js("""return document.querySelectorAll(
            '#dashboard img, #dashboard script, #dashboard iframe, #dashboard object, #events tbody td *').length""")
        if injected:
            raise CheckFailed(f"{injected} element(s) injected from data into the dashboard (XSS)")
        if self.js("return typeof window.__pwned") != "undefined":
            raise CheckFailed("an XSS probe executed (window.__pwned is set)")
        self.collect_logs()
        bad = self.problems()
        result = {
            "login_refused": True,
            "chart_points": int(state.get("points", 0)),
            "last_values": [int(v) if v == int(v) else v for v in seen],
            "event_rows": int(self.js("return document.querySelectorAll('#events tbody tr').length")),
            "anomaly_kinds": sorted(set(self.js(
                "return [...document.querySelectorAll('#anomalies li')].map(li => li.getAttribute('data-kind'))"))),
            "stat_requests": d.find_element(By.ID, "stat-requests").text,
            "console_errors": bad,
        }
        if bad:
            print(json.dumps(result), flush=True)
            raise CheckFailed("browser console errors: " + " | ".join(bad))
        print(json.dumps(result), flush=True)

    def full_page_shot(self, name):
        """Best effort: the whole page, below the fold too (Chrome DevTools protocol)."""
        try:
            import base64
            self.js("window.scrollTo(0, 0)")  # a scrolled page puts sticky headers mid-picture
            time.sleep(0.2)
            m = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
            size = m.get("cssContentSize") or m["contentSize"]
            shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}})
            p = self.out / name
            p.write_bytes(base64.b64decode(shot["data"]))
            self.shots.append(str(p))
        except Exception as e:  # noqa: BLE001 - purely a debugging aid
            print(f"dashboard_check: full-page screenshot skipped: {e}", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--out", required=True, help="directory for the screenshots")
    ap.add_argument("--expect-kind", action="append", default=[])
    ap.add_argument("--expect-text", action="append", default=[])
    ap.add_argument("--timeout", type=float, default=90)
    args = ap.parse_args()
    check = Check(args)
    try:
        check.run()
        return 0
    except (CheckFailed, WebDriverException) as e:
        msg = e.msg if isinstance(e, WebDriverException) else str(e)
        print(f"dashboard_check: FAIL: {msg}", file=sys.stderr)
        if check.driver is not None:
            try:
                check.shot("fail.png")
                print(f"dashboard_check: page state saved to {check.out / 'fail.png'}", file=sys.stderr)
                check.collect_logs()
                for line in check.problems():
                    print(f"dashboard_check: console: {line}", file=sys.stderr)
            except WebDriverException:
                pass
        return 1
    finally:
        if check.driver is not None:
            try:
                check.driver.quit()
            except Exception:  # noqa: BLE001
                pass


if __name__ == "__main__":
    sys.exit(main())
