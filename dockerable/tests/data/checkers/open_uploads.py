"""In the browser container: open each URL given, as a user clicking a link to an upload would.

Prints JSON, one entry per URL: {"url", "ran": true if the page's script changed its title to
"ran", "download": true if the browser saved the answer instead of showing it}.
"""

import json
import sys

from playwright.sync_api import Error, sync_playwright  # pylint: disable=import-error  # browser image only


def opened(browser, url: str) -> dict:
    """What opening `url` in a new tab did."""
    page = browser.new_page(ignore_https_errors=True, accept_downloads=True)
    downloads = []
    page.on("download", lambda download: downloads.append(download.suggested_filename))
    try:
        page.goto(url)
        page.wait_for_timeout(500)
        ran = page.title() == "ran"
    except Error as exc:
        # Chromium ends a navigation that became a download with an error.
        if "Download is starting" not in str(exc):
            raise
        ran = False
    page.close()
    return {"url": url, "ran": ran, "download": bool(downloads)}


def main(urls: list[str]) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        seen = [opened(browser, url) for url in urls]
        browser.close()
    print(json.dumps(seen))


if __name__ == "__main__":
    main(sys.argv[1:])
