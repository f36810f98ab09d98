"""Benchmark, not a test: how long verifying one token takes, in Python and in the browser.

    .venv/bin/python bench/token_verify.py

Issues 1,000 distinct valid vouchers with a fresh key, times events.tokens.verify on each one
(perf_counter_ns around every call), then starts the real server the way e2e/conftest.py does,
opens its home page in Chromium, imports /static/js/token.js, verifies the trust bundle once and
times token.js's verify() on each of the same tokens with performance.now(). Both sides first
verify the first WARMUP tokens untimed. Prints a Markdown table and the machine it ran on.

Chromium coarsens performance.now() to 100 µs on a page that is not cross-origin isolated,
which is most of one verification. So the benchmark adds COOP/COEP headers to that one page
(Playwright routing; the server is untouched), which brings the resolution down to a few µs,
measures the resolution it actually got, and always reports the mean (total / tokens) as well.
"""

from __future__ import annotations

import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Route, sync_playwright  # noqa: E402

from e2e.conftest import CHROMIUM_ARGS, chromium_executable, free_port, start_server, wait_until_up  # noqa: E402
from bench.machine import cpu_model, percentile  # noqa: E402
from events import tokens  # noqa: E402
from events.db import open_database  # noqa: E402
from events.demo import ensure_demo  # noqa: E402
from events.keys import KeyRecord, KeyStatus, b64url, generate_private_key, public_key_bytes  # noqa: E402
from events.trust import TrustBundle, sign_bundle, verify_bundle  # noqa: E402

TOKENS = 1000
WARMUP = 100
EVENT_ID = "evbenchmark00001"

BROWSER_RUN = """
async ({ signed, rootPublicKey, eventId, texts, now, warmup }) => {
  const t = await import('/static/js/token.js');
  const bundle = await t.verifyBundle(signed, rootPublicKey, { eventId });
  for (const text of texts.slice(0, warmup)) await t.verify(text, bundle, { now });
  const times = [];
  let refused = 0;
  const started = performance.now();
  for (const text of texts) {
    const before = performance.now();
    try {
      await t.verify(text, bundle, { now });
    } catch {
      refused += 1;
    }
    times.push(performance.now() - before);
  }
  const total = performance.now() - started;
  // The smallest step performance.now() takes here: its effective resolution.
  let resolution = Infinity;
  for (let i = 0, last = performance.now(); i < 200000; i++) {
    const now = performance.now();
    if (now > last) { resolution = Math.min(resolution, now - last); last = now; }
  }
  return { times, total, refused, resolution, isolated: self.crossOriginIsolated };
}
"""


def issue_tokens(now: int) -> tuple[list[str], TrustBundle, dict, bytes]:
    root, signer = generate_private_key(), generate_private_key()
    bundle = TrustBundle(
        event_id=EVENT_ID,
        seq=1,
        issued_at=now,
        keys={1: KeyRecord(1, public_key_bytes(signer), None, KeyStatus.ACTIVE, now - 3600)},
    )
    signed = sign_bundle(bundle, root).to_json()
    texts = [
        tokens.issue(
            signing_key=signer,
            key_id=1,
            event_id=EVENT_ID,
            type=tokens.TokenType.VOUCHER,
            issued_at=now - 60,
            valid_from=now - 60,
            valid_until=now + 3600,
            campaign=1,
            max_uses=1,
            rotating=True,
        )
        for _ in range(TOKENS)
    ]
    assert len(set(texts)) == TOKENS
    return texts, bundle, signed, public_key_bytes(root)


def time_python(texts: list[str], signed: dict, root_public_key: bytes, now: int) -> list[float]:
    bundle = verify_bundle(signed, root_public_key, event_id=EVENT_ID)  # as a tablet would hold it
    for text in texts[:WARMUP]:
        tokens.verify(text, bundle, now=now)
    micros = []
    for text in texts:
        before = time.perf_counter_ns()
        tokens.verify(text, bundle, now=now)
        micros.append((time.perf_counter_ns() - before) / 1000)
    return micros


def isolate(route: Route) -> None:
    """The home page as the server sends it, plus the headers that make it cross-origin isolated."""
    response = route.fetch()
    headers = {**response.headers, "cross-origin-opener-policy": "same-origin", "cross-origin-embedder-policy": "require-corp"}
    route.fulfill(response=response, headers=headers)


def time_browser(texts: list[str], signed: dict, root_public_key: bytes, now: int) -> tuple[dict, str]:
    with tempfile.TemporaryDirectory() as directory:
        db_path = Path(directory) / "bench.db"
        db = open_database(db_path)
        ensure_demo(db, now=now)
        db.close()
        port = free_port()
        process = start_server(db_path, port, Path(directory) / "server.log")
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(url, process)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_ARGS)
                try:
                    page = browser.new_page()
                    page.route(url + "/", isolate)
                    page.goto(url + "/")
                    result = page.evaluate(
                        BROWSER_RUN,
                        {"signed": signed, "rootPublicKey": b64url(root_public_key), "eventId": EVENT_ID, "texts": texts, "now": now, "warmup": WARMUP},
                    )
                    return result, browser.version
                finally:
                    browser.close()
        finally:
            process.terminate()
            process.wait(timeout=10)


def main() -> None:
    now = int(time.time())
    texts, _, signed, root_public_key = issue_tokens(now)
    python_times = time_python(texts, signed, root_public_key, now)
    browser, chromium_version = time_browser(texts, signed, root_public_key, now)
    if browser["refused"]:
        raise SystemExit(f"token.js refused {browser['refused']} of {TOKENS} valid tokens")
    browser_times = [ms * 1000 for ms in browser["times"]]
    browser_mean = browser["total"] * 1000 / TOKENS

    rows = [
        ("Python `events.tokens.verify`", python_times, statistics.fmean(python_times)),
        ("Browser `token.js` `verify()`", browser_times, browser_mean),
    ]
    print(f"Verifying one token: {TOKENS} distinct valid vouchers, each timed alone, after {WARMUP} untimed.\n")
    print("| implementation | tokens | median µs | p95 µs | mean µs |")
    print("|---|---:|---:|---:|---:|")
    for name, times, mean in rows:
        print(f"| {name} | {len(times)} | {statistics.median(times):.1f} | {percentile(times, 0.95):.1f} | {mean:.1f} |")
    resolution = browser["resolution"] * 1000
    print()
    print(f"- CPU: {cpu_model()}")
    print(f"- Python {platform.python_version()}, Chromium {chromium_version}, {platform.system()} {platform.machine()}")
    print(
        f"- Browser timer: performance.now() resolution measured at {resolution:.1f} µs "
        f"(page cross-origin isolated: {'yes' if browser['isolated'] else 'no'}); "
        "the browser mean is total time / tokens, one performance.now() pair around the whole loop."
    )
    if resolution > 20:
        print("- performance.now() is coarsened here: the browser median and p95 are multiples of its resolution; trust the mean.")


if __name__ == "__main__":
    main()
