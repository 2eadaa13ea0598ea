#!/usr/bin/env python3
"""The web map in a real browser (Debian's headless Chromium through Selenium), against a running
platform with the demo city: layer counts match the API, popups show the API's figures, a reading
published over MQTT reaches the map, the operator flow registers a device, no console errors.
Screenshots go to data/portal-screenshots/."""

import json, os, shutil, signal, socket, subprocess, sys, tempfile, time, traceback, urllib.request, urllib.error

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CMC = os.environ.get("CMC_BINARY", os.path.join(ROOT, ".build", "debug", "cmc"))
MQTT_URL = os.environ.get("CMC_TEST_MQTT_URL", "mqtt://cmc:cmc-test@127.0.0.1:18830")
SHOTS = os.path.join(ROOT, "data", "portal-screenshots")
ADMIN = ("admin@portal.test", "portal test password")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(what, predicate, timeout=30, interval=0.2):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except Exception as error:  # not up yet
            last = error
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last: {last})")


class Platform:
    def __init__(self, directory):
        self.port, self.feeds_port = free_port(), free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        connectors = os.path.join(directory, "connectors")
        os.makedirs(connectors)
        for name in os.listdir(os.path.join(ROOT, "connectors")):
            if name.endswith(".json"):
                text = open(os.path.join(ROOT, "connectors", name)).read().replace("http://127.0.0.1:8090", f"http://127.0.0.1:{self.feeds_port}")
                open(os.path.join(connectors, name), "w").write(text)
        os.symlink(os.path.join(ROOT, "connectors", "demo"), os.path.join(connectors, "demo"))
        env = dict(os.environ, CMC_DATABASE_URL=f"sqlite:{directory}/cmc.sqlite", CMC_PORT=str(self.port), CMC_COAP_PORT="off",
                   CMC_MQTT_URL=MQTT_URL, CMC_MQTT_CLIENT_ID=f"cmc-portal-{self.port}", CMC_TILE_URL="http://127.0.0.1:9/{z}/{x}/{y}.png", CMC_CONNECTORS_DIR=connectors,
                   CMC_PORTAL_DIR=os.path.join(ROOT, "portal"), CMC_MIGRATIONS_DIR=os.path.join(ROOT, "migrations"),
                   CMC_ADMIN_EMAIL=ADMIN[0], CMC_ADMIN_PASSWORD=ADMIN[1], CMC_BCRYPT_COST="4", CMC_LOG_LEVEL="warning")
        self.logs = open(os.path.join(directory, "platform.log"), "w")
        self.feeds = subprocess.Popen([CMC, "demo", "feeds", "--port", str(self.feeds_port)], stdout=self.logs, stderr=subprocess.STDOUT)
        self.server = subprocess.Popen([CMC, "serve"], env=env, stdout=self.logs, stderr=subprocess.STDOUT, cwd=directory)
        wait("the platform", lambda: self.get("/health")["status"] == "ok")
        self.token = self.call("POST", "/users/signin", {"email": ADMIN[0], "password": ADMIN[1]})["token"]
        wait("every source's first run", lambda: all(s["status"].get("lastResult") for s in self.get("/persistence/sources", True)["sources"]), timeout=60)

    def call(self, method, path, body=None, auth=False):
        request = urllib.request.Request(self.base + path, method=method, data=None if body is None else json.dumps(body).encode())
        request.add_header("Content-Type", "application/json")
        if auth:
            request.add_header("Authorization", f"Bearer {self.token}")
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read()
            return json.loads(text) if text else None

    def get(self, path, auth=False):
        return self.call("GET", path, auth=auth)

    def stop(self):
        for process in (self.server, self.feeds):
            process.send_signal(signal.SIGTERM)
        for process in (self.server, self.feeds):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900", "--disable-gpu"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def shot(driver, name):
    os.makedirs(SHOTS, exist_ok=True)
    path = os.path.join(SHOTS, name + ".png")
    driver.save_screenshot(path)
    print(f"  screenshot {os.path.relpath(path, ROOT)}")


def popup_text(driver):
    return driver.execute_script("const p = document.querySelector('.leaflet-popup-content .popup'); return p ? p.innerText : null")


def run(platform, driver):
    failures = []

    def check(name, condition, detail=""):
        print(("  ok   " if condition else "  FAIL ") + name + ("" if condition else f": {detail}"))
        if not condition:
            failures.append(name)

    driver.get(platform.base + "/")
    wait("the map's devices", lambda: driver.execute_script("return window.cmcPortal && window.cmcPortal.ready"))
    print(f"  the map was ready {driver.execute_script('return window.cmcPortal.loadMilliseconds')} ms after the page's script started")
    shot(driver, "1-city")

    # Every layer's marker count matches the API (anonymous: public devices).
    categories = ["parking", "bus_stop", "traffic", "carsharing", "bikesharing"]
    for category in categories + ["bus"]:
        expected = len(platform.get(f"/devices?category={category}&limit=1000")["devices"])
        shown = driver.execute_script("return window.cmcPortal.counts()").get(category, 0)
        if category == "bus" and shown != expected:  # buses come and go with the timetable; look again
            time.sleep(2)
            expected = len(platform.get(f"/devices?category={category}&limit=1000")["devices"])
            shown = driver.execute_script("return window.cmcPortal.counts()").get(category, 0)
        check(f"{category}: {shown} markers, {expected} in the API", shown == expected, f"{shown} != {expected}")
    menu = driver.execute_script("return [...document.querySelectorAll('#layer-list input')].map(i => i.dataset.category)")
    check("the menu lists every layer", set(categories) <= set(menu), menu)

    # A parking popup shows its capacity and free spaces now, and the services around it.
    driver.execute_script("window.cmcPortal.open('parking:P-ROMA')")
    wait("the parking popup's services around", lambda: "Bus stops" in (popup_text(driver) or ""), timeout=15)
    for _ in range(3):
        latest = platform.get("/history/parking:P-ROMA/latest")["values"]
        shown = driver.execute_script("const r = document.querySelector('.popup [data-field=free] td'); return r && r.textContent")
        if shown == str(latest["free"]):
            break
        time.sleep(1)
    check("the parking popup shows the free spaces of the API", shown == str(latest["free"]), f"{shown} vs {latest['free']}")
    check("the parking popup shows the capacity", str(latest["capacity"]) in popup_text(driver), popup_text(driver))
    shot(driver, "2-parking-popup")

    # A bus stop shows its lines and next departures.
    stop = platform.get("/devices?category=bus_stop&limit=1")["devices"][0]
    driver.execute_script(f"window.cmcPortal.map.map.closePopup(); window.cmcPortal.open('{stop['id']}')")
    wait("departures", lambda: driver.execute_script("return document.querySelectorAll('.popup [data-line]').length") > 0, timeout=15)
    lines = driver.execute_script("const r = document.querySelector('.popup [data-field=lines] td'); return r && r.textContent")
    check("the bus-stop popup lists its lines", lines == ", ".join(stop["metadata"]["lines"]), lines)
    departures = platform.get(f"/devices/{stop['id']}/departures?limit=5")["departures"]
    shown = driver.execute_script("return [...document.querySelectorAll('.popup [data-line] th')].map(t => t.textContent)")
    check("the bus-stop popup shows the next departures' lines", shown == [d["line"] for d in departures], f"{shown} vs {departures}")
    shot(driver, "3-bus-stop-popup")
    driver.execute_script("window.cmcPortal.map.map.closePopup()")

    # Traffic sensors are coloured by speed.
    colours = driver.execute_script("return [...new Set([...document.querySelectorAll('.pin.traffic')].map(p => p.style.background))]")
    check("traffic sensors are coloured", len(colours) >= 1 and all(colours), colours)

    # A reading published over MQTT appears on the map within seconds, on a layer of its own.
    created = platform.call("POST", "/devices", {"id": "air-yenne", "category": "air_quality", "connector": "mqtt", "public": True,
                                                 "nickname": "Air quality Piazza Yenne", "location": {"lat": 39.2179, "lon": 9.1127}}, auth=True)
    wait("the new device on the map", lambda: driver.execute_script("return window.cmcPortal.counts().air_quality") == 1, timeout=10)
    host, port = MQTT_URL.split("@")[1].split(":")
    subprocess.run(["mosquitto_pub", "-h", host, "-p", port, "-i", created["credentials"]["clientId"],
                    "-u", created["credentials"]["username"], "-P", created["credentials"]["password"],
                    "-q", "1", "-t", "cmc/devices/air-yenne/data", "-m", json.dumps({"values": {"pm10": 42.5}})], check=True, timeout=10)
    started = time.time()
    wait("the MQTT reading on the map", lambda: (driver.execute_script("return window.cmcPortal.latest('air-yenne')") or {}).get("values", {}).get("pm10") == 42.5, timeout=10)
    check(f"an MQTT reading reached the map in {time.time() - started:.1f} s", True)
    menu = driver.execute_script("return [...document.querySelectorAll('#layer-list input')].map(i => i.dataset.category)")
    check("a new kind of device gets its layer", "air_quality" in menu, menu)

    # Search finds a device by name.
    box = driver.find_element(By.ID, "search-input")
    box.send_keys("Air quality Piazza")
    box.submit()
    wait("the searched device's popup", lambda: "Air quality Piazza Yenne" in (popup_text(driver) or ""), timeout=10)
    check("search opens the device", True)
    driver.execute_script("window.cmcPortal.map.map.closePopup()")

    # The operator signs in, registers a device by clicking its place on the map, reads a history chart.
    driver.find_element(By.CSS_SELECTOR, "#signin input[name=email]").send_keys(ADMIN[0])
    driver.find_element(By.CSS_SELECTOR, "#signin input[name=password]").send_keys(ADMIN[1])
    driver.find_element(By.CSS_SELECTOR, "#signin button").click()
    wait("the operator tools", lambda: driver.find_element(By.ID, "operator-tools").is_displayed(), timeout=10)
    form = driver.find_element(By.ID, "device-form")
    form.find_element(By.NAME, "id").send_keys("noise-portal-1")
    form.find_element(By.NAME, "category").send_keys("noise")
    form.find_element(By.NAME, "nickname").send_keys("Noise meter Via Roma")
    driver.find_element(By.ID, "pick-place").click()
    map_element = driver.find_element(By.ID, "map")
    ActionChains(driver).move_to_element_with_offset(map_element, 40, 30).click().perform()
    wait("the picked place", lambda: "," in driver.find_element(By.ID, "device-place").text, timeout=5)
    driver.find_element(By.ID, "device-submit").click()
    registered = wait("the registered device", lambda: platform.get("/devices/noise-portal-1", auth=True), timeout=10)
    check("the operator's device is registered with the place clicked", registered.get("location") is not None and registered["category"] == "noise", registered)
    wait("its marker", lambda: driver.execute_script("return window.cmcPortal.counts().noise") == 1, timeout=10)
    shot(driver, "4-operator")

    # The operator renames the device from its popup, then deletes it.
    driver.execute_script("window.cmcPortal.open('noise-portal-1')")
    wait("the edit button", lambda: driver.execute_script("return !!document.querySelector('.popup [data-action=edit]')"), timeout=10)
    driver.execute_script("document.querySelector('.popup [data-action=edit]').click()")
    name = form.find_element(By.NAME, "nickname")
    name.clear()
    name.send_keys("Noise meter Largo Carlo Felice")
    driver.find_element(By.ID, "device-submit").click()
    wait("the renamed device", lambda: platform.get("/devices/noise-portal-1", auth=True)["nickname"] == "Noise meter Largo Carlo Felice", timeout=10)
    check("the operator renames a device", True)
    driver.execute_script("window.confirm = () => true; window.cmcPortal.open('noise-portal-1')")
    wait("the delete button", lambda: driver.execute_script("return !!document.querySelector('.popup [data-action=delete]')"), timeout=10)
    driver.execute_script("document.querySelector('.popup [data-action=delete]').click()")
    wait("the marker gone", lambda: driver.execute_script("return window.cmcPortal.counts().noise || 0") == 0, timeout=10)
    try:
        platform.get("/devices/noise-portal-1", auth=True)
        check("the operator deletes a device", False, "still registered")
    except urllib.error.HTTPError as error:
        check("the operator deletes a device", error.code == 404, error.code)

    driver.execute_script("window.cmcPortal.open('parking:P-MATTEOTTI')")
    history = ".leaflet-popup-pane .popup[data-device='parking:P-MATTEOTTI'] [data-action=history]"
    wait("the popup's operator buttons", lambda: driver.execute_script(f"return !!document.querySelector(\"{history}\")"), timeout=10)
    driver.execute_script(f"document.querySelector(\"{history}\").click()")
    wait("the history chart", lambda: int(driver.execute_script("return document.getElementById('chart').dataset.points || '0'")) >= 1, timeout=10)
    check("a history chart is drawn from the History API", True)
    driver.find_element(By.CSS_SELECTOR, "#sources summary").click()
    wait("the sources table", lambda: len(driver.find_elements(By.CSS_SELECTOR, "#source-rows tr")) == 7, timeout=10)
    check("the data sources and their status are listed", True)
    shot(driver, "5-history-and-sources")

    # A phone-sized screen: the map fills it, the menu slides in.
    driver.set_window_size(390, 844)
    driver.get(platform.base + "/")
    wait("the map on a phone", lambda: driver.execute_script("return window.cmcPortal && window.cmcPortal.ready"))
    check("on a phone the panel starts hidden", not driver.find_element(By.ID, "layer-list").is_displayed() or
          driver.execute_script("return document.getElementById('panel').getBoundingClientRect().right <= 0"))
    driver.find_element(By.ID, "panel-toggle").click()
    time.sleep(0.5)
    check("the menu opens on a phone", driver.execute_script("return document.getElementById('panel').getBoundingClientRect().left >= 0"))
    shot(driver, "6-phone")

    errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    check("the page logged no console errors", not errors, errors)
    return failures


def main():
    directory = tempfile.mkdtemp(prefix="cmc-portal-")
    platform = driver = None
    try:
        platform = Platform(directory)
        driver = browser()
        failures = run(platform, driver)
    except Exception:
        traceback.print_exc()
        failures = ["the run"]
        if driver:
            shot(driver, "failure")
    finally:
        if driver:
            driver.quit()
        if platform:
            platform.stop()
    if failures:
        print(f"portal tests: {len(failures)} failed; platform log in {directory}/platform.log")
        sys.exit(1)
    shutil.rmtree(directory, ignore_errors=True)
    print("portal tests: all passed")


if __name__ == "__main__":
    main()
