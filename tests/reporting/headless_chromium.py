"""Open a local HTML page in headless Chromium and report what a reader would find broken.

Chromium is driven through the DevTools protocol (a JSON-over-websocket RPC) with websocket-client,
so no browser-automation package is needed. Console errors come from three CDP event streams:
console.error calls, uncaught exceptions, and the browser's own log (where failed resource loads
such as a missing image appear).
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import websocket

STARTUP_TIMEOUT_S = 30.0
# Resolves once every <audio> has its metadata or an error, forcing a load where preload="none".
INSPECT_PAGE_JS = """
(async () => {
  const settle = (a) => new Promise((resolve) => {
    const done = () => resolve({src: a.getAttribute('src'), readyState: a.readyState, error: a.error ? a.error.code : null});
    if (a.readyState >= 1 || a.error) { done(); return; }
    a.addEventListener('loadedmetadata', done, {once: true});
    a.addEventListener('error', done, {once: true});
    setTimeout(done, 10000);
    a.preload = 'metadata';
    a.load();
  });
  const audios = await Promise.all([...document.querySelectorAll('audio')].map(settle));
  const images = [...document.images].map((img) => ({src: img.getAttribute('src'), width: img.complete ? img.naturalWidth : 0}));
  const tables = [...document.querySelectorAll('table')].map((t) => ({
    heading: t.previousElementSibling ? t.previousElementSibling.id : '', className: t.className, rows: t.rows.length}));
  return {audios, images, tables};
})()
"""


@dataclass
class PageReport:
    console_errors: list[str] = field(default_factory=list)
    audios: list[dict] = field(default_factory=list)
    images: list[dict] = field(default_factory=list)
    tables: list[dict] = field(default_factory=list)

    def problems(self) -> list[str]:
        """Everything a reader would see as broken, one line each; empty for a sound page."""
        found = [f"console error: {message}" for message in self.console_errors]
        found += [f"image {image['src']} did not load" for image in self.images if image["width"] == 0]
        found += [f"audio {audio['src']} did not load (readyState {audio['readyState']}, error {audio['error']})"
                  for audio in self.audios if audio["readyState"] < 1 or audio["error"] is not None]
        return found


class HeadlessChromium:
    """One headless Chromium process with a private profile; `close()` ends it."""

    def __init__(self, binary: str, profile_dir: Path):
        self.process = subprocess.Popen(
            [binary, "--headless=new", "--disable-gpu", "--no-sandbox", "--no-first-run", "--no-default-browser-check",
             "--disable-extensions", "--remote-debugging-port=0", f"--user-data-dir={profile_dir}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            port = self._devtools_port(profile_dir / "DevToolsActivePort")
            targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10).read())
            page = next(target for target in targets if target["type"] == "page")
            self.socket = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30, suppress_origin=True)
        except BaseException:
            self.process.kill()
            self.process.wait()
            raise
        self._next_id = 0
        self._events: list[dict] = []
        for domain in ("Runtime", "Log", "Page"):
            self.call(f"{domain}.enable")

    def _devtools_port(self, port_file: Path) -> int:
        # Chromium writes the port it picked (port 0 = any free one) into the profile when ready.
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"chromium exited with status {self.process.returncode} before its DevTools port opened")
            if port_file.is_file() and port_file.read_text().strip():
                return int(port_file.read_text().split()[0])
            time.sleep(0.1)
        raise TimeoutError(f"chromium opened no DevTools port within {STARTUP_TIMEOUT_S} s")

    def call(self, method: str, **params) -> dict:
        """Send one CDP command and return its result; events arriving meanwhile are kept."""
        self._next_id += 1
        self.socket.send(json.dumps({"id": self._next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise RuntimeError(f"CDP {method} failed: {message['error']}")
                return message["result"]
            self._events.append(message)

    def wait_for(self, event: str, timeout_s: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for index, message in enumerate(self._events):
                if message.get("method") == event:
                    return self._events.pop(index)
            self._events.append(json.loads(self.socket.recv()))
        raise TimeoutError(f"no {event} within {timeout_s} s")

    def inspect(self, page: Path) -> PageReport:
        """Load `page` (a file), let every audio element load, and collect errors, media and tables."""
        # The browser log outlives navigation: clear it so one page's errors never count against the next.
        self.call("Log.clear")
        self._events.clear()
        self.call("Page.navigate", url=page.resolve().as_uri())
        self.wait_for("Page.loadEventFired")
        result = self.call("Runtime.evaluate", expression=INSPECT_PAGE_JS, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"the inspection script failed: {result['exceptionDetails']}")
        found = result["result"]["value"]
        return PageReport(console_errors=self._console_errors(), **found)

    def _console_errors(self) -> list[str]:
        errors = []
        for message in self._events:
            method, params = message.get("method"), message.get("params", {})
            if method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
                errors.append(" ".join(str(arg.get("value", arg.get("description", ""))) for arg in params["args"]))
            elif method == "Runtime.exceptionThrown":
                errors.append(params["exceptionDetails"].get("text", "uncaught exception"))
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                entry = params["entry"]
                errors.append(f"{entry['text']} {entry.get('url', '')}".strip())
        return errors

    def close(self) -> None:
        try:
            self.socket.close()
        finally:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
