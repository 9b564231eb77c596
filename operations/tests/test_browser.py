"""Real browser lane: headless Chromium drives the running server (pytest-django live_server).

Skipped, with the reason, when Chromium or its driver is missing (`.ci/run` installs both).
"""

import shutil

import pytest
from django.urls import reverse

from accounts.models import ApiKey
from ledger.models import JournalEntry
from ledger.services import transfer_create
from tests.factories import ClientFactory, EndUserFactory, PlatformStaffFactory, open_account

# serialized_rollback: the flush between tests would otherwise drop the seeded currencies.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
PASSWORD = "correct horse battery staple"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
)


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.skip("headless Chromium not installed (apt-get install -y chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture
def staff(browser, live_server):
    """A logged-in superuser (through the real login form)."""
    from selenium.webdriver.common.by import By

    user = PlatformStaffFactory(is_superuser=True)
    browser.delete_all_cookies()
    browser.get(live_server.url + reverse("admin:login"))
    browser.find_element(By.NAME, "username").send_keys(user.username)
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "input[type=submit]"))
    assert browser.current_url.rstrip("/").endswith("/admin"), browser.current_url
    browser.get_log("browser")  # start each test with an empty console
    return user


@pytest.fixture
def funded(db):
    tenant = ClientFactory()
    alice, bob = EndUserFactory(client=tenant), EndUserFactory(client=tenant)
    alice_usd = open_account(alice, "USD", deposit=100_000)
    bob_usd = open_account(bob, "USD", deposit=25_000)
    transfer_create(from_account=alice_usd, to_account=bob_usd, amount=1_000)
    return tenant, alice_usd


def click_and_wait(browser, element) -> None:
    """Click something that navigates, and wait until the new page has loaded: a bare click may
    return before navigation, and the next lookup would then search the old page.

    The old page is marked in its window object, which a navigation replaces. Watching the old
    `<html>` element go stale is not enough: mid-navigation Chromium may answer for a node being
    torn down with a generic error ("Node with given id does not belong to the document") instead
    of a stale-element one, so every driver error while polling means "not there yet"."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    browser.execute_script("window.__beforeClick = true;")
    element.click()
    WebDriverWait(browser, 20, ignored_exceptions=(WebDriverException,)).until(
        lambda driver: driver.execute_script(
            "return window.__beforeClick === undefined && document.readyState === 'complete';"
        )
    )


def console_errors(browser) -> list[dict]:
    return [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def test_dashboard_renders_charts_without_console_errors(browser, live_server, staff, funded):
    from selenium.webdriver.common.by import By

    browser.get(live_server.url + reverse("admin:index"))
    click_and_wait(browser, browser.find_element(By.LINK_TEXT, "Operations dashboard"))
    assert "Operations dashboard" in browser.title
    charts = browser.find_elements(By.CSS_SELECTOR, "#money-movements svg.chart rect")
    assert charts, "no chart bars rendered"
    assert browser.find_element(By.ID, "orders-by-status").find_element(By.TAG_NAME, "svg")
    assert console_errors(browser) == []


def test_issuing_an_api_key_shows_it_once(browser, live_server, staff, funded):
    from selenium.webdriver.common.by import By

    tenant, _ = funded
    browser.get(live_server.url + reverse("admin:accounts_client_change", args=[tenant.pk]))
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "a.issue-api-key"))
    browser.find_element(By.NAME, "name").send_keys("browser key")
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "#issue-api-key-form input[type=submit]"))
    plaintext = browser.find_element(By.ID, "api-key-plaintext").text
    key = ApiKey.objects.get(client=tenant, name="browser key")
    assert plaintext.startswith(f"{key.prefix}.")
    secret = plaintext.split(".", 1)[1]
    # the client page, the key page and the key list never show it again
    for url in (
        reverse("admin:accounts_client_change", args=[tenant.pk]),
        reverse("admin:accounts_apikey_change", args=[key.pk]),
        reverse("admin:accounts_apikey_changelist"),
    ):
        browser.get(live_server.url + url)
        assert secret not in browser.page_source
    assert console_errors(browser) == []


def test_posting_an_adjustment_with_a_reason(browser, live_server, staff, funded):
    from selenium.webdriver.common.by import By

    _, alice_usd = funded
    browser.get(live_server.url + reverse("admin:ledger_account_change", args=[alice_usd.pk]))
    click_and_wait(browser, browser.find_element(By.LINK_TEXT, "Post adjustment…"))
    browser.find_element(By.CSS_SELECTOR, "input[name=direction][value=credit]").click()
    browser.find_element(By.NAME, "amount").send_keys("12.34")
    browser.find_element(By.NAME, "reason").send_keys("goodwill credit after support ticket 42")
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "#adjustment-form input[type=submit]"))
    assert "Adjustment #" in browser.find_element(By.CSS_SELECTOR, "ul.messagelist").text
    entry = JournalEntry.objects.get(kind=JournalEntry.Kind.ADJUSTMENT)
    assert entry.metadata["reason"] == "goodwill credit after support ticket 42"
    alice_usd.refresh_from_db()
    assert alice_usd.balance == 100_000 - 1_000 + 1_234
    assert console_errors(browser) == []


def test_browsable_api_root_and_swagger_ui_load(browser, live_server, staff):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(live_server.url + "/api/v1/")
    assert "Django REST framework" in browser.page_source
    browser.get(live_server.url + "/api/v1/docs/")
    WebDriverWait(browser, 20).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".swagger-ui .info .title"))
    )
    assert console_errors(browser) == []


def test_admin_index_lays_out_the_back_office_box_like_the_app_list(browser, live_server, staff):
    from selenium.webdriver.common.by import By

    browser.get(live_server.url + reverse("admin:index"))
    box = browser.find_element(By.ID, "operations-dashboard-link")
    link = box.find_element(By.LINK_TEXT, "Operations dashboard")
    first_app = browser.find_element(By.CSS_SELECTOR, "#content-main .app-accounts.module")
    # the link reads on one line (it was squeezed into a one-character column, letters stacked)
    line_height = float(browser.execute_script("return parseFloat(getComputedStyle(arguments[0]).lineHeight)", link))
    assert link.size["height"] < 2 * line_height, link.size
    assert link.size["width"] > link.size["height"] * 5, link.size
    # and the box sits in the main column, as wide as the app modules below it
    assert box.location["x"] == first_app.location["x"]
    assert box.size["width"] == first_app.size["width"]
    assert box.location["y"] < first_app.location["y"]
    assert console_errors(browser) == []
