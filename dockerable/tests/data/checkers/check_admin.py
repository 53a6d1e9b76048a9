"""In the browser container: sign in to the admin and visit its pages; print what the browser refused.

Prints JSON: the titles of the pages seen, and every console error (Content-Security-Policy
violations among them, report-only ones too) and script error, the favicon's 404 aside (no page
names one); the mark the fixture admin's inline script leaves, "ran" if it ran. Last, a canary:
an image from another origin, which the policy must block (or report), so that a listener that
heard nothing proves nothing.
"""

import json
import sys

from playwright.sync_api import sync_playwright  # pylint: disable=import-error  # only in the browser image

REPORT_VIOLATIONS = (
    "document.addEventListener('securitypolicyviolation', event => "
    "console.error('CSP violation: ' + event.violatedDirective + ' ' + event.blockedURI))"
)
CANARY = (
    "document.body.appendChild(Object.assign(document.createElement('img'), "
    "{src: 'https://canary.invalid/blocked.png'}))"
)


def main(base: str, user: str, password: str) -> None:
    titles, problems = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page(ignore_https_errors=True)
        page.add_init_script(REPORT_VIOLATIONS)

        def on_console(message):
            if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
                problems.append(message.text)

        page.on("console", on_console)
        page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
        page.goto(f"{base}/admin/login/")
        titles.append(page.title())
        page.fill("#id_username", user)
        page.fill("#id_password", password)
        page.click("input[type=submit]")
        page.wait_for_load_state("load")
        titles.append(page.title())
        inline = ""
        for path in ("/admin/fixturebook/entry/add/", "/admin/auth/user/", "/"):
            page.goto(f"{base}{path}")
            titles.append(page.title())
            if path == "/admin/fixturebook/entry/add/":
                inline = page.evaluate("document.documentElement.dataset.inlineScript || ''")
        seen = len(problems)
        page.evaluate(CANARY)
        page.wait_for_timeout(500)
        canary = problems[seen:]
        del problems[seen:]
        browser.close()
    print(json.dumps({"titles": titles, "problems": problems, "canary": canary, "inline": inline}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
