"""Run inside the app container (`manage shell -c`) by test_prod_stack, with a secrets.json naming a
bucket of the moto server: the environment's default storage stores, links, serves and deletes
uploads there. Prints a JSON report."""

import json
import urllib.request

import boto3
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import storages

options = settings.STORAGES["default"]["OPTIONS"]
boto3.client(
    "s3",
    endpoint_url=options["endpoint_url"],
    region_name=options["region_name"],
    aws_access_key_id=options["access_key"],
    aws_secret_access_key=options["secret_key"],
).create_bucket(Bucket=options["bucket_name"])
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
