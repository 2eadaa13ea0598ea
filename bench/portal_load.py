#!/usr/bin/env python3
"""How the web map copes with the city's size: time until the map has drawn its devices, for
the CMC evaluation's mix at 440 devices and at 44,000 (100x), measured in the same run in headless
Chromium, and how long a popup then takes to open. Usage: bench/portal_load.py [--runs 3]"""

import argparse, json, os, signal, socket, subprocess, sys, tempfile, time, urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "Tests", "PortalTests"))
from portal_test import ROOT, browser, free_port, wait  # noqa: E402

CMC_BENCH = os.environ.get("CMC_BENCH_BINARY", os.path.join(ROOT, ".build", "release", "cmc-bench"))
CMC = os.environ.get("CMC_BINARY", os.path.join(ROOT, ".build", "release", "cmc"))


def city(directory, devices):
    path = os.path.join(directory, f"city-{devices}.sqlite")
    subprocess.run([CMC_BENCH, "geo", "--devices", str(devices), "--database", f"sqlite:{path}", "--queries", "1", "--scans", "1"],
                   check=True, stdout=subprocess.DEVNULL, env=dict(os.environ, CMC_MIGRATIONS_DIR=os.path.join(ROOT, "migrations")))
    return path


def measure(path, runs):
    port = free_port()
    env = dict(os.environ, CMC_DATABASE_URL=f"sqlite:{path}", CMC_PORT=str(port), CMC_COAP_PORT="off", CMC_CONNECTORS_DIR="off",
               CMC_TILE_URL="", CMC_PORTAL_DIR=os.path.join(ROOT, "portal"), CMC_MIGRATIONS_DIR=os.path.join(ROOT, "migrations"), CMC_LOG_LEVEL="error")
    server = subprocess.Popen([CMC, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    driver = None
    try:
        wait("the platform", lambda: json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/health"))["status"] == "ok")
        driver = browser()
        results = []
        for _ in range(runs):
            driver.get(f"http://127.0.0.1:{port}/")
            wait("the map", lambda: driver.execute_script("return window.cmcPortal && window.cmcPortal.ready"), timeout=300, interval=0.05)
            ready = driver.execute_script("return window.cmcPortal.loadMilliseconds")
            markers = sum(driver.execute_script("return window.cmcPortal.counts()").values())
            target = driver.execute_script("for (const [id, e] of window.cmcPortal.map.entries) if (e.device.category === 'parking') return id")
            started = time.time()
            driver.execute_script(f"window.cmcPortal.open('{target}')")
            wait("a popup", lambda: driver.execute_script("return !!document.querySelector('.leaflet-popup-content .popup table')"), timeout=60, interval=0.02)
            results.append((ready, markers, (time.time() - started) * 1000))
        return results
    finally:
        if driver:
            driver.quit()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default="440,44000")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cmc-portal-bench-") as directory:
        rows = []
        for size in [int(s) for s in options.sizes.split(",")]:
            results = measure(city(directory, size), options.runs)
            median = sorted(results)[len(results) // 2]
            rows.append((size, median))
        base = rows[0][1][0] or 1
        print(f"{'devices':>8} {'markers':>8} {'map ready ms':>13} {'popup ms':>9} {'ready / first':>14}")
        for size, (ready, markers, popup) in rows:
            print(f"{size:>8} {markers:>8} {ready:>13.0f} {popup:>9.0f} {ready / base:>14.1f}")


if __name__ == "__main__":
    main()
