"""The live page at ``/`` in a real browser: headless Chromium, driven by selenium.

An embedded server (``serve --network`` as ``omnistock`` builds it, in a uvicorn thread) holds a
small network around New York; the page opens on its own choice of product and ZIP code, and
what it renders is checked against the API's own answers. Then a till sale empties the nearest
store (the stock, the pickup list and the promise follow, and an alert arrives, all without a
reload), a click reserves, and a flash sale holds exactly the store's stock. The last step saves
a screenshot to ``docs/images/demo-page.png``.

The browser is Debian's ``chromium`` and ``chromium-driver``, named explicitly: selenium-manager
is made to fail if anything calls it, so nothing is ever downloaded. Without them the browser
test is skipped, except under CI (``CI`` set), where it must run (``.ci/run`` installs them).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from engine.policy import load
from omnistock.serve_cmd import build
from omnistock.settings import Settings
from tests.api.conftest import uvicorn_thread

pytestmark = pytest.mark.slow

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "images" / "demo-page.png"
WAIT_S = 30  # generous: a shared two-core machine
WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
STOCK = {  # sku -> location -> on hand
    "TENT": {"S001": 3, "S002": 5, "S003": 2, "S004": 6, "DC01": 20, "DC02": 9},
    "LAMP": {"S001": 1, "S004": 2, "DC01": 4},
    "STOVE": {"S002": 2, "DC02": 7},
}


def _store(location_id: str, name: str, lat: float, lon: float) -> dict[str, Any]:
    return {
        "id": location_id,
        "name": name,
        "kind": "store",
        "lat": lat,
        "lon": lon,
        "timezone": "America/New_York",
        "hours": {day: ["07:00", "22:00"] for day in WEEK},
        "pick_minutes": 30,
        "ship_cutoff": "16:00",
    }


def _dc(location_id: str, name: str, lat: float, lon: float, tz: str) -> dict[str, Any]:
    return {
        "id": location_id,
        "name": name,
        "kind": "dc",
        "lat": lat,
        "lon": lon,
        "timezone": tz,
        "hours": {day: ["06:00", "22:00"] for day in WEEK[:6]},
        "pickup": False,
        "pick_minutes": 120,
        "ship_cutoff": "18:00",
    }


NETWORK: dict[str, Any] = {
    "locations": [
        _store("S001", "Upper West Side", 40.787, -73.975),
        _store("S002", "Brooklyn Heights", 40.696, -73.994),
        _store("S003", "Jersey City", 40.728, -74.078),
        _store("S004", "Yonkers", 40.931, -73.899),
        _dc("DC01", "Edison distribution centre", 40.52, -74.41, "America/New_York"),
        _dc("DC02", "Columbus distribution centre", 39.96, -82.99, "America/New_York"),
    ],
    "service_levels": [
        {"name": "standard", "transit_days": [[0, 300, 2], [300, 1000, 3], [1000, 6000, 5]]},
        {"name": "express", "transit_days": [[0, 800, 1], [800, 6000, 2]]},
        {"name": "same_day", "max_km": 40, "order_cutoff": "14:00"},
    ],
    "regions": [
        {"id": "100", "lat": 40.78, "lon": -73.97},
        {"id": "432", "lat": 39.96, "lon": -83.0},
    ],
}
POLICY = {
    "channels": [
        {"name": "web"},
        {"name": "app"},
        {"name": "pos", "safety_stock": False},
        {"name": "marketplace", "buffer_pct": 20, "protect_units": 1, "locations": ["group:dcs"]},
    ],
    "groups": [{"id": "dcs", "locations": ["DC01", "DC02"]}],
}


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _send(base: str, events: list[dict[str, Any]]) -> None:
    answer = httpx.post(f"{base}/v1/events", json=events, timeout=30)
    assert answer.status_code == 202 and answer.json()["accepted"] == len(events), answer.text


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """The server's base URL, its stock in and the promise table filled."""
    args = argparse.Namespace(
        api_keys=None, network=None, bootstrap=None, policy=None, topic_prefix=None
    )
    app, _, _ = build(
        args,
        Settings.from_env(),
        network_text=orjson.dumps(NETWORK),
        policy=load(orjson.dumps(POLICY)),
    )
    with uvicorn_thread(app, log_level="warning") as port:
        base = f"http://127.0.0.1:{port}"
        events = [
            {"event_id": f"r-{sku}-{loc}", "type": "receipt", "location_id": loc, "sku": sku}
            | {"qty": qty, "ts": _now()}
            for sku, stock in STOCK.items()
            for loc, qty in stock.items()
        ]
        _send(base, events)
        body = {"skus": list(STOCK), "destination": {"region": "100"}}
        _until(lambda: all(s["as_of"] for s in _post(base, "/v1/promise/listing", body)["skus"]))
        yield base


def _post(base: str, path: str, body: dict[str, Any]) -> Any:
    answer = httpx.post(f"{base}{path}", json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _until(ready: Any) -> None:
    deadline = time.monotonic() + WAIT_S
    while not ready():
        assert time.monotonic() < deadline, "the server did not get there"
        time.sleep(0.05)


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        if os.environ.get("CI"):
            pytest.fail("CI: chromium and chromedriver must be installed (apt-get, .ci/run)")
        pytest.skip("no chromium/chromedriver (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.selenium_manager import SeleniumManager

    def never(*_: Any, **__: Any) -> Any:
        raise AssertionError("selenium-manager must not run: it would download a browser")

    monkeypatch.setattr(SeleniumManager, "binary_paths", never)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--window-size=1440,1180",
        "--force-device-scale-factor=1",
        "--lang=en-US",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    try:
        yield driver
    finally:
        driver.quit()


def test_the_page_and_its_files_are_served_without_a_browser(server):
    page = httpx.get(f"{server}/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for src in re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text):
        assert httpx.get(f"{server}{src}").status_code == 200, src
    for name in ("api", "format", "promise", "stock", "alerts", "sale"):
        script = httpx.get(f"{server}/static/js/{name}.js")
        assert script.status_code == 200
        assert script.headers["content-type"].startswith("text/javascript")
        assert "http://" not in script.text and "https://" not in script.text  # no CDN
    missing = httpx.get(f"{server}/static/../app.py")
    assert missing.status_code == 404
    setup = httpx.get(f"{server}/page/setup").json()
    assert setup["network"] is True
    assert setup["default"]["sku"] == "TENT"  # in stock at the most stores near region 100
    assert setup["default"]["postal_code"].startswith("100")
    assert sorted(setup["products"]) == sorted(STOCK)
    assert [loc["location_id"] for loc in setup["locations"]][:4] == [
        "S001",
        "S002",
        "S003",
        "S004",
    ]
    assert setup["channels"] == ["web", "app", "pos", "marketplace"]
    assert "/page/setup" not in httpx.get(f"{server}/openapi.json").json()["paths"]


def test_without_a_network_the_setup_lists_what_the_read_model_knows():
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.backends.embedded import EmbeddedBackend
    from api.readmodel import ReadModel
    from engine.book import EngineConfig

    with TestClient(create_app(EmbeddedBackend(ReadModel(), EngineConfig()))) as client:
        assert client.get("/page/setup").json()["products"] == []
        receipt = {"event_id": "e1", "type": "receipt", "location_id": "S9", "sku": "MUG"}
        sent = client.post("/v1/events", json=[receipt | {"qty": 2, "ts": _now()}])
        assert sent.status_code == 202, sent.text
        _until(lambda: client.get("/v1/atp/S9/MUG").status_code == 200)
        setup = client.get("/page/setup").json()
        assert client.get("/").status_code == 200
    assert setup == {
        "network": False,
        "products": ["MUG"],
        "locations": [
            {"location_id": "S9", "name": "S9", "kind": "unknown", "pickup": False, "ship": False}
        ],
        "channels": ["web", "app", "call_centre", "pos"],
        "default": {"sku": "MUG", "postal_code": None},
    }


def test_the_page_shows_promises_pickup_stock_and_alerts_and_holds_live(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.select import Select
    from selenium.webdriver.support.wait import WebDriverWait

    wait = WebDriverWait(browser, WAIT_S, poll_frequency=0.1)

    def texts(css: str, attribute: str | None = None) -> list[str]:
        found = browser.find_elements(By.CSS_SELECTOR, css)
        return [e.get_attribute(attribute) if attribute else e.text for e in found]

    def cell(location_id: str, field: str) -> str | None:
        found = texts(f'#stock-table tr[data-location="{location_id}"] [data-field="{field}"]')
        return found[0] if found else None

    # options (level, deliver_by, location) and pickup stores, nearest first (their ready_at
    # moves with the clock while a store is open: checked for its form, not its value)
    def shown_promise() -> tuple[list[tuple[str, str, str]], list[str]]:
        options = browser.find_elements(By.CSS_SELECTOR, "#options li.option")
        stores = browser.find_elements(By.CSS_SELECTOR, "#pickup li.store")
        return (
            [
                (
                    o.get_attribute("data-level"),
                    o.get_attribute("data-deliver-by"),
                    o.get_attribute("data-location"),
                )
                for o in options
            ],
            [s.get_attribute("data-location") for s in stores],
        )

    def api_promise(zip_code: str) -> tuple[list[tuple[str, str, str]], list[str]]:
        body = {"items": [{"sku": "TENT", "qty": 1}], "destination": {"postal_code": zip_code}}
        item = _post(server, "/v1/promise", body)["items"][0]
        return (
            [(o["service_level"], o["deliver_by"], o["location_id"]) for o in item["options"]],
            [s["location_id"] for s in item["pickup"]],
        )

    browser.get(f"{server}/")
    # it opens on a product and a ZIP code, and shows a promise before anyone types
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#options li.option"))
    assert browser.find_element(By.ID, "sku").get_attribute("value") == "TENT"
    zip_code = browser.find_element(By.ID, "zip").get_attribute("value")
    assert re.fullmatch(r"100\d\d", zip_code or ""), zip_code
    wait.until(lambda _: shown_promise() == api_promise(zip_code))
    options, pickup = shown_promise()
    assert {level for level, _, _ in options} <= {"standard", "express", "same_day"}
    assert {"standard", "express"} <= {level for level, _, _ in options}
    assert all(line.startswith("ships by ") for line in texts("#options li.option .ship-by"))
    for line in texts("#options li.option .countdown"):  # ticking to each option's ship_by
        assert re.fullmatch(r"ships in \d.*|shipping now", line), line
    assert set(pickup) == {"S001", "S002", "S003", "S004"}
    for ready_at in texts("#pickup li.store", "data-ready-at"):
        assert datetime.fromisoformat(ready_at).utcoffset() is not None, ready_at
    assert all(text.startswith("ready ") for text in texts("#pickup .ready-at"))
    wait.until(lambda _: "region 100" in browser.find_element(By.ID, "promise-note").text)
    # the stock across every location, with its channel views
    wait.until(lambda _: cell("DC02", "on_hand") == "9")
    for location_id, qty in STOCK["TENT"].items():
        assert cell(location_id, "on_hand") == str(qty)
    assert cell("DC01", "channel-marketplace") == "15"  # (20 - 1) * 80 %
    assert cell("S001", "channel-marketplace") == "0"  # the marketplace sells from DCs
    assert "LAMP" in texts("#skus option", "value")

    # a till sale empties the nearest store: stock, pickup and promise follow, an alert arrives,
    # all in this same document (no reload: the mark set here survives)
    browser.execute_script("window.omnistockMark = 'same page'")
    nearest = pickup[0]
    assert nearest == "S001"  # Upper West Side, the nearest to region 100's point
    sale = {"event_id": "till-1", "type": "sale", "location_id": nearest, "sku": "TENT"}
    _send(server, [sale | {"qty": STOCK["TENT"][nearest], "ts": _now()}])
    wait.until(lambda _: cell(nearest, "on_hand") == "0")
    wait.until(lambda _: nearest not in shown_promise()[1])
    wait.until(lambda _: shown_promise() == api_promise(zip_code))
    assert nearest not in {loc for _, _, loc in shown_promise()[0]}
    stockout = f'#alert-list li[data-kind="stockout"][data-sku="TENT"][data-location="{nearest}"]'
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, stockout))

    # reserve: a hold at the chosen store, and the stock shows it
    Select(browser.find_element(By.ID, "store")).select_by_value("S002")
    browser.find_element(By.ID, "reserve").click()
    held = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '#hold [data-status="confirmed"]'))
    assert held[0].text.startswith("Held 1 \u00d7 TENT at Brooklyn Heights")  # 1 x TENT
    wait.until(lambda _: cell("S002", "reserved") == "1")

    # the flash sale: more buyers than the store's two units (the page suggests how many)
    Select(browser.find_element(By.ID, "store")).select_by_value("S003")
    buyers = int(browser.find_element(By.ID, "buyers").get_attribute("value") or 0)
    assert buyers == 14  # 2 x 2 + 10
    browser.find_element(By.ID, "flash").click()
    wait.until(lambda d: d.find_elements(By.ID, "sale-verdict"))
    figures = {
        name: browser.find_element(By.ID, f"sale-{name}").text
        for name in ("buyers", "stock", "held", "refused", "pending", "oversold")
    }
    assert figures == {
        "buyers": str(buyers),
        "stock": "2",
        "held": "2",
        "refused": str(buyers - 2),
        "pending": "0",
        "oversold": "0",
    }
    assert browser.find_element(By.ID, "sale-verdict").text.startswith("Oversold 0")
    wait.until(lambda _: cell("S003", "reserved") == "2" and cell("S003", "atp") == "0")

    assert browser.execute_script("return window.omnistockMark") == "same page"
    # the whole page in one picture: the window as tall as the page
    chrome, height = browser.execute_script(
        "return [window.outerHeight - window.innerHeight, document.documentElement.scrollHeight]"
    )
    browser.set_window_size(1440, chrome + height)
    browser.execute_script("window.scrollTo(0, 0)")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOT))
