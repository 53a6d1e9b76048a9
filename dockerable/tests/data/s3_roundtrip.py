"""Run inside the app container (`manage shell -c`) by test_prod_stack, with a secrets.json naming a
bucket of the moto server (the test makes it): the environment's default storage stores, links,
serves and deletes uploads there. Prints a JSON report."""

import json
import urllib.request

from django.core.files.base import ContentFile
from django.core.files.storage import storages

default_storage = storages["default"]
report = {"backend": type(default_storage).__name__, "files": {}}
for name, content in (("page.html", b"<script>document.title='ran'</script>"), ("photo.png", b"\x89PNG\r\n")):
    first = default_storage.save(name, ContentFile(content))
    second = default_storage.save(name, ContentFile(content))
    url = default_storage.url(first)
    with urllib.request.urlopen(url, timeout=10) as answer:
        body, disposition = answer.read(), answer.headers.get("Content-Disposition")
    default_storage.delete(first)
    report["files"][name] = {
        "first": first,
        "second": second,
        "url": url,
        "served": body == content,
        "disposition": disposition,
        "exists after delete": default_storage.exists(first),
    }
print(json.dumps(report))
