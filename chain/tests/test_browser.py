"""Browser lane for the manual-custody Operations queue: headless Chromium drives admin from the
queue to a confirmed withdrawal. Skipped, with the reason, without Chromium and its driver."""

import pytest
from django.urls import reverse

from chain.models import CryptoWithdrawal
from chain.services import WithdrawalRequest, crypto_withdrawal_submit
from operations.tests.test_browser import browser, click_and_wait, console_errors, staff  # noqa: F401 - fixtures
from tests.factories import EndUserFactory, open_account

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
RECIPIENT = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"


@pytest.fixture
def manual_withdrawal(db):
    user = EndUserFactory()
    btc = open_account(user, "BTC", deposit=50_000_000)
    return crypto_withdrawal_submit(request=WithdrawalRequest(account=btc, address=RECIPIENT, amount=12_345_678))


def test_staff_send_a_manual_custody_withdrawal_from_the_queue_to_confirmed(
    browser, live_server, staff, manual_withdrawal  # noqa: F811 - the shared browser fixtures
):
    from selenium.webdriver.common.by import By

    # the queue lists it, with the amount and the address to send to
    browser.get(live_server.url + reverse("admin:chain_cryptowithdrawal_changelist") + "?queue=send")
    assert RECIPIENT in browser.page_source and "0.12345678 BTC" in browser.page_source
    click_and_wait(browser, browser.find_element(By.LINK_TEXT, "Operate…"))
    assert browser.find_element(By.ID, "withdrawal-address").text == RECIPIENT

    # staff record the hash of the transaction sent from cold storage
    browser.find_element(By.NAME, "broadcast-tx_hash").send_keys("ab" * 32)
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "#broadcast-form input[type=submit]"))
    assert "is now broadcast" in browser.find_element(By.CSS_SELECTOR, "ul.messagelist").text
    assert CryptoWithdrawal.objects.get().status == "broadcast"

    # then the confirmations, from the confirmation queue
    browser.get(live_server.url + reverse("admin:chain_cryptowithdrawal_changelist") + "?queue=confirm")
    click_and_wait(browser, browser.find_element(By.LINK_TEXT, "Operate…"))
    browser.find_element(By.NAME, "confirmations-confirmations").send_keys("3")
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "#confirmations-form input[type=submit]"))
    assert "is now confirmed" in browser.find_element(By.CSS_SELECTOR, "ul.messagelist").text

    withdrawal = CryptoWithdrawal.objects.get()
    assert withdrawal.status == "confirmed" and withdrawal.tx_hash == "ab" * 32 and withdrawal.entry_id
    assert console_errors(browser) == []
