"""The browser tier: people using the storefront in headless Chromium (Debian's `chromium`,
driven by Playwright), against the whole system started as the e2e tier starts it.

Every page a test opens is watched: a console error or an uncaught exception fails the test
(a test names the errors it provokes on purpose), and a failing test leaves a screenshot of each
of its pages under .run/test-output/browser/."""

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Playwright, sync_playwright

from harness.system import GATEWAY, ROOT, System, SystemManager

# The e2e session: one system for the whole run, started and stopped as tests/e2e does.
from tests.e2e.conftest import systems

__all__ = ["systems"]

CHROMIUM = "/usr/bin/chromium"
OUTPUT = ROOT / ".run/test-output/browser"
DESKTOP = {"width": 1000, "height": 640}
# UPDATE_SCREENSHOTS=1 make test-browser: the README's pictures (docs/img), taken as the tests run.
SCREENSHOTS = ROOT / "docs/img" if os.environ.get("UPDATE_SCREENSHOTS") == "1" else None
# Figures a test measured (page weight, time to interactive), printed at the end of the run.
MEASURED: list[str] = []


@pytest.fixture(scope="session")
def system(systems: SystemManager) -> System:
    return systems.ensure("rabbitmq")


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.fail("Chromium is missing: run `make setup` (it installs Debian's chromium).", pytrace=False)
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    # --no-sandbox: the tests run as root, where Chromium's sandbox refuses to start.
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
    yield browser
    browser.close()


@dataclass
class Watched:
    """A page and what went wrong on it."""

    page: Page
    name: str
    errors: list[str] = field(default_factory=list)


@dataclass
class People:
    """Opens one browser context per person (their own storage: token, cart) and watches every
    page for console errors."""

    browser: Browser
    contexts: list[BrowserContext] = field(default_factory=list)
    pages: list[Watched] = field(default_factory=list)
    # Console errors a test provokes on purpose (e.g. the browser logging an expected 409).
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def open(self, name: str, **context_options: Any) -> Page:
        options = {"base_url": GATEWAY, "viewport": DESKTOP, **context_options}
        context = self.browser.new_context(**options)
        context.set_default_timeout(10_000)
        self.contexts.append(context)
        page = context.new_page()
        watched = Watched(page, name)
        self.pages.append(watched)

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                watched.errors.append(f"console: {message.text}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: watched.errors.append(f"uncaught: {error}"))
        # A product named <img onerror=alert(1)> must never run: any dialog is a failure.
        page.on(
            "dialog", lambda dialog: (watched.errors.append(f"dialog: {dialog.message}"), dialog.dismiss())
        )
        return page

    def allow(self, pattern: str) -> None:
        self.allowed.append(re.compile(pattern))

    def unexpected_errors(self) -> list[str]:
        return [
            f"{w.name}: {error}"
            for w in self.pages
            for error in w.errors
            if not any(p.search(error) for p in self.allowed)
        ]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if MEASURED:
        terminalreporter.write_sep("-", "storefront, measured in Chromium (printed, not asserted)")
        for line in MEASURED:
            terminalreporter.write_line(line)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def people(browser: Browser, system: System, request: pytest.FixtureRequest) -> Iterator[People]:
    crowd = People(browser)
    yield crowd
    outcome = getattr(request.node, "report_call", None)
    passed = outcome is not None and outcome.passed
    errors = crowd.unexpected_errors()
    if not passed or errors:
        OUTPUT.mkdir(parents=True, exist_ok=True)
        for watched in crowd.pages:
            path = OUTPUT / f"{request.node.name}-{watched.name}.png"
            try:
                watched.page.screenshot(path=path, full_page=True)
                print(f"[browser] screenshot of {watched.name}'s page: {path}")
            except Exception as exc:  # a crashed page cannot be photographed; say so, go on
                print(f"[browser] no screenshot of {watched.name}'s page: {exc}")
    for context in crowd.contexts:
        context.close()
    if passed:
        assert not errors, "errors in the browser console:\n" + "\n".join(errors)
