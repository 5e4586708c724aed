#!/usr/bin/env python3
"""Drives headless Chromium over the DevTools protocol on a pipe
(--remote-debugging-pipe: JSON messages ending in NUL on fds 3 and 4), for
the live-reload tests and bench/dev/live-reload. Python stdlib only; every
wait has a deadline.

  browser_drive.py text URL
      prints the page's text once it has loaded
  browser_drive.py reload URL FILE OLD NEW [SAMPLES]
      opens URL; for each sample saves FILE with OLD replaced by NEW<i>
      (written aside, then renamed, as editors do) and waits until the open
      page shows NEW<i>; prints the milliseconds of each sample, one a line
  browser_drive.py css URL FILE
      opens URL, appends a rule to the stylesheet FILE and waits until the
      page applies it without reloading (a mark set in the page survives)

Exit 0 on success, 1 with a message on stderr otherwise.
"""
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time

DEADLINE_S = 10.0


class Browser:
    def __init__(self):
        exe = shutil.which("chromium") or shutil.which("chromium-browser")
        if not exe:
            raise SystemExit("browser_drive: chromium is not installed")
        self.profile = tempfile.mkdtemp(prefix="lusty-chromium-")
        to_r, self.to_w = os.pipe()
        self.from_r, from_w = os.pipe()

        def fds():
            # Through fresh copies: a pipe may itself be fd 3 or 4, and
            # dup2 onto itself would keep its close-on-exec flag.
            r, w = os.dup(to_r), os.dup(from_w)
            os.dup2(r, 3)
            os.dup2(w, 4)

        self.proc = subprocess.Popen(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--no-default-browser-check", "--disable-extensions",
             "--disable-background-networking", "--disable-background-timer-throttling",
             "--disable-renderer-backgrounding", "--disable-backgrounding-occluded-windows",
             "--user-data-dir=" + self.profile, "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=fds, close_fds=False)
        os.close(to_r)
        os.close(from_w)
        self.buf = b""
        self.next_id = 0
        self.events = []
        self.session = None

    def close(self):
        try:
            self.proc.kill()
            self.proc.wait(timeout=5)
        except Exception:
            pass
        shutil.rmtree(self.profile, ignore_errors=True)

    def _read(self, deadline):
        """One message, or None when the deadline passes."""
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self.from_r], [], [], left)
            if ready:
                chunk = os.read(self.from_r, 65536)
                if not chunk:
                    raise SystemExit("browser_drive: chromium exited")
                self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, timeout=DEADLINE_S):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if self.session and not method.startswith("Target."):
            msg["sessionId"] = self.session
        os.write(self.to_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply is None:
                raise SystemExit("browser_drive: no answer to " + method)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    return {"error": reply["error"]}
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def wait_event(self, name, deadline):
        while True:
            for i, e in enumerate(self.events):
                if e["method"] == name:
                    del self.events[i]
                    return True
            e = self._read(deadline)
            if e is None:
                return False
            if "method" in e:
                self.events.append(e)

    def open(self, url):
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget",
                                 {"targetId": target, "flatten": True})["sessionId"]
        self.call("Page.enable")
        self.events.clear()
        self.call("Page.navigate", {"url": url})
        if not self.wait_event("Page.loadEventFired", time.monotonic() + DEADLINE_S):
            raise SystemExit("browser_drive: %s did not load" % url)

    def eval(self, expr):
        r = self.call("Runtime.evaluate", {"expression": expr, "returnByValue": True}, 2.0)
        return r.get("result", {}).get("value")

    def wait_true(self, expr, what, timeout=DEADLINE_S):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.eval(expr) is True:
                return
            time.sleep(0.002)
        raise SystemExit("browser_drive: %s (after %.0f s)" % (what, timeout))


def save(path, text):
    """Writes aside and renames, as editors do, so nobody reads half a file."""
    d, name = os.path.split(path)
    tmp = os.path.join(d, "." + name + ".browser-drive")
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


LIVE_OPEN = "!!(window.__lustyLive && window.__lustyLive.readyState === 1)"


def main(argv):
    if len(argv) < 3:
        raise SystemExit(__doc__)
    cmd, url = argv[1], argv[2]
    b = Browser()
    try:
        b.open(url)
        if cmd == "text":
            print(b.eval("document.body ? document.body.innerText : ''"))
        elif cmd == "reload":
            path, old, new = argv[3], argv[4], argv[5]
            samples = int(argv[6]) if len(argv) > 6 else 1
            original = open(path).read()
            if old not in original:
                raise SystemExit("browser_drive: %r is not in %s" % (old, path))
            try:
                for i in range(samples):
                    b.wait_true(LIVE_OPEN, "the page's live-reload stream did not open")
                    want = "%s%d" % (new, i)
                    start = time.monotonic()
                    save(path, original.replace(old, want))
                    b.wait_true("!!(document.body && document.body.innerText.indexOf(%s) >= 0)"
                                % json.dumps(want), "the open page never showed " + want)
                    print("%.1f" % ((time.monotonic() - start) * 1000), flush=True)
            finally:
                save(path, original)
        elif cmd == "css":
            path = argv[3]
            b.wait_true(LIVE_OPEN, "the page's live-reload stream did not open")
            b.eval("window.__lustyKept = 1")
            with open(path, "a") as f:
                f.write("\n:root { --lusty-live-probe: swapped; }\n")
            b.wait_true("getComputedStyle(document.documentElement)"
                        ".getPropertyValue('--lusty-live-probe').trim() === 'swapped'",
                        "the page never applied the new stylesheet")
            if b.eval("window.__lustyKept") != 1:
                raise SystemExit("browser_drive: the page reloaded for a stylesheet change")
            print("css swapped")
        else:
            raise SystemExit(__doc__)
    finally:
        b.close()


if __name__ == "__main__":
    main(sys.argv)
