"""The dashboard in Debian's headless Chromium, against the API as users run it.

``python -m serving`` (uvicorn) runs on a free port over a temporary SQLite
store. The fault test takes the platform's real path: a hot-path worker
(``python -m hot_path worker``) consumes the session broker's topic and
writes the speed views into that store; a car's readings with a misfire code
make it raise an alert, which must show on the page within seconds. The
degraded test opens the page on an empty store with Kafka down.

Screenshots go to ``test-artifacts/`` (git-ignored; CI keeps the directory).
Selenium Manager never runs: the driver is Debian's ``/usr/bin/chromedriver``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka import Consumer, Producer
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from fleet.telemetry import encode_event
from fleet.vin import with_check_digit
from tests.integration.test_hot_path import wait_until_consumed
from tests.unit.hot_path.readings import reading
from tests.utils.hot_path import running_worker, stop, wait_for_views
from tests.utils.hot_path import worker_env as hot_worker_env
from tests.utils.kafka import produce_all

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
PARTITIONS = 3
CAR = with_check_digit("WF1DASHB0SA100001")
PEERS = [with_check_digit(f"WF1DASHB0SA20000{i}") for i in range(1, 4)]
# Where the readings put the cars: on the depot-downtown road, inside the drawn map.
LAT, LON = 48.125, 11.52
ALERT_WITHIN_S = 20.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:] if path.exists() else "(no log)"


@pytest.fixture
def store_env(tmp_path: Path) -> dict[str, str]:
    """What the API and the worker share: the data directory and the serving store."""
    return {
        **os.environ,
        "DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'serving.db'}",
    }


@pytest.fixture
def start_api(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], str]]:
    """Factory: ``python -m serving`` on a free port with ``env``; its base URL once it answers."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(env: dict[str, str]) -> str:
        port = _free_port()
        log_path = tmp_path / "api.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "serving"],
                env={**env, "SERVING_PORT": str(port), "SERVING_LOG_LEVEL": "warning"},
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"the API exited:\n{_tail(log_path)}"
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    return url
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"the API did not answer /healthz within 60 s:\n{_tail(log_path)}")

    yield start
    for proc in procs:
        stop(proc, timeout=20)


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[webdriver.Chrome]:
    """Headless Chromium that keeps its console log; no download of drivers, ever."""
    monkeypatch.setenv("SE_OFFLINE", "true")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1440,1250", "--force-device-scale-factor=1"):  # fmt: skip
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def console_errors(driver: webdriver.Chrome) -> list[dict[str, Any]]:
    """Console entries at error level since the last call (the log is drained as it is read)."""
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def text_of(driver: webdriver.Chrome, element_id: str) -> str:
    return str(driver.find_element(By.ID, element_id).text)


def wait_text(driver: webdriver.Chrome, element_id: str, wanted: str, timeout: float = 15) -> None:
    try:
        WebDriverWait(driver, timeout, poll_frequency=0.2).until(
            lambda d: wanted in text_of(d, element_id)
        )
    except TimeoutException:
        raise AssertionError(
            f"#{element_id} never said {wanted!r}; it says {text_of(driver, element_id)!r}"
        ) from None


def screenshot(driver: webdriver.Chrome, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / name))


def test_an_empty_store_and_kafka_down_each_say_so(
    store_env: dict[str, str], start_api: Callable[[dict[str, str]], str], browser: webdriver.Chrome
) -> None:
    url = start_api({**store_env, "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{_free_port()}"})
    browser.get(url + "/")
    wait_text(browser, "live-status", "LIVE")
    wait_text(browser, "map-note", "No car has reported yet")
    wait_text(browser, "attention-note", "No open alerts")
    wait_text(browser, "leaderboard-note", "No car has driven 1 km yet")
    wait_text(browser, "routes-note", "No batch view yet")
    wait_text(browser, "health-note", "Kafka unreachable")
    assert "none yet" in text_of(browser, "health-list")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#roads polyline")) > 100
    screenshot(browser, "dashboard-empty.png")
    assert console_errors(browser) == []


def healthy(seconds: range, vins: list[str]) -> list[tuple[bytes, bytes]]:
    """Cars driving east on the depot-downtown road, one reading a second."""
    return [
        (vin.encode(), encode_event(reading(s, vin=vin, latitude=LAT + i / 150,
                                            longitude=LON + s / 4000, heading=80.0,
                                            origin="depot", destination="downtown")))
        for s in seconds for i, vin in enumerate(vins)
    ]  # fmt: skip


def misfiring(seconds: range) -> list[tuple[bytes, bytes]]:
    """The car reports a misfire trouble code (P0301: critical) every second."""
    return [
        (CAR.encode(), encode_event(reading(s, vin=CAR, latitude=LAT, longitude=LON + s / 4000,
                                            heading=80.0, dtcs=("P0301",), origin="depot",
                                            destination="downtown")))
        for s in seconds
    ]  # fmt: skip


@pytest.fixture
def worker_env(
    kafka_bootstrap: str, new_topic: Callable[..., str], store_env: dict[str, str], tmp_path: Path
) -> dict[str, str]:
    return hot_worker_env(store_env, kafka_bootstrap, new_topic, tmp_path / "hot_path", PARTITIONS)


@pytest.fixture
def worker(worker_env: dict[str, str], tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    with running_worker(worker_env, tmp_path / "worker.log") as proc:
        yield proc


def test_a_fault_the_hot_path_detects_shows_on_the_page_within_seconds(
    worker_env: dict[str, str],
    worker: subprocess.Popen[bytes],
    start_api: Callable[[dict[str, str]], str],
    browser: webdriver.Chrome,
    producer: Producer,
    make_consumer: Callable[..., Consumer],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    topic = worker_env["HOT_TELEMETRY_TOPIC"]
    url = start_api(worker_env)  # the API while the worker starts: both need a while
    # Healthy cars first, so the worker is up and the cars are on the map before the fault.
    produce_all(producer, topic, healthy(range(0, 20), [CAR, *PEERS]))
    watcher = make_consumer(worker_env["HOT_APP_ID"])
    wait_until_consumed(watcher, topic, worker, tmp_path / "worker.log", timeout=120)
    wait_for_views(make_consumer, worker_env, PARTITIONS, worker, tmp_path / "worker.log")

    browser.get(url + "/")
    wait_text(browser, "live-status", "LIVE")
    wait_text(browser, "map-summary", f"{1 + len(PEERS)} cars")
    wait_text(browser, "attention-note", "No open alerts")
    wait_text(browser, "health-list", "brokers up")  # the session broker, through /cluster
    assert "unreachable" not in text_of(browser, "health-note")
    assert browser.find_element(By.ID, f"car-{CAR}").get_attribute("class") == "car"
    assert console_errors(browser) == []

    started = time.monotonic()
    produce_all(producer, topic, misfiring(range(20, 40)) + healthy(range(20, 40), PEERS))
    try:
        wait_text(browser, "attention-list", CAR, timeout=ALERT_WITHIN_S)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nworker log:\n{_tail(tmp_path / 'worker.log')}") from None
    seconds = time.monotonic() - started
    # In the JUnit report (--junitxml): how long the page took, for whoever tunes the path.
    request.node.user_properties.append(("alert_on_page_s", round(seconds, 2)))

    item = text_of(browser, "attention-list")
    assert "dtc active" in item and "CRITICAL" in item.upper()
    assert text_of(browser, "attention-count") == "1"
    car = browser.find_element(By.ID, f"car-{CAR}")
    assert "sev-critical" in str(car.get_attribute("class"))
    peers = [browser.find_element(By.ID, f"car-{vin}").get_attribute("class") for vin in PEERS]
    assert peers == ["car"] * len(PEERS)
    screenshot(browser, "dashboard.png")
    assert console_errors(browser) == []
