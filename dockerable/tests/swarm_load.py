"""Load for the Swarm tests, run in a container on the stack's network: `python swarm_load.py CONFIG.json`
(and for the proxy tests, on this machine: CONFIG["port"], and CONFIG["ca"] null to trust any certificate).

Half the clients keep one HTTPS connection alive, half open a new one per request; each starts a
request every CONFIG["every"] seconds at most (EVERY unless given; 0: back to back). It runs until
the file CONFIG["stop"] exists, then prints one JSON line: every request's outcome counted, the
failures listed (when each ended by time.monotonic(), one clock for every container of this
machine; what; how long it took), latency percentiles before and after CONFIG["mark"] appears,
and the requests answered of those started after it; with CONFIG["post_every"], the keys it
posted that were answered.
"""

import http.client
import json
import os
import socket
import ssl
import sys
import threading
import time

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
# Ten requests a second from each client, 80 from the usual 8: some in flight whenever a task
# starts or stops, and light enough that the load tests of several modules at once leave the
# machine's cores to their stacks (docs/ci.md).
EVERY = 0.1


class Connection(http.client.HTTPSConnection):
    """HTTPS to the public host name (certificate, Host header), at the stack's nginx address."""

    address = ""
    address_port = 443

    def connect(self):
        sock = socket.create_connection((self.address, self.address_port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # pylint: disable=no-member


def send(connection: Connection, config: dict, key: str) -> str:
    """GET config["path"]; with config["post_every"], POST key=`key` there (the worker tests count the
    runs of the task each such request queues). The key sent, if any."""
    if config.get("post_every"):
        connection.request("POST", config["path"], body=f"key={key}", headers=FORM)
        return key
    connection.request("GET", config["path"])
    return ""


def client(config: dict, keep_alive: bool, results: list, queued: list) -> None:
    """Request config["path"] until the stop file exists; record (time, status or error, seconds, marked).
    With config["post_every"] (seconds), POST a new key=NAME-N there that often instead, and list in
    `queued` the keys answered 200."""
    if config["ca"]:
        context = ssl.create_default_context(cafile=config["ca"])
    else:
        context = ssl._create_unverified_context()  # pylint: disable=protected-access
    connection = None
    sent = 0
    while not os.path.exists(config["stop"]):
        marked = os.path.exists(config["mark"])
        start = time.monotonic()
        try:
            if connection is None:
                connection = Connection(config["host"], 443, timeout=10, context=context)
            sent += 1
            key = send(connection, config, f"{config.get('name', 'load')}-{keep_alive}-{sent}")
            response = connection.getresponse()
            body = response.read()
            outcome = response.status
            if outcome == 200 and config.get("expect") and config["expect"].encode() not in body:
                outcome = "unexpected body"
            if not keep_alive or response.getheader("connection", "").lower() == "close":
                connection.close()
                connection = None
        except (OSError, http.client.HTTPException) as exc:
            outcome = type(exc).__name__
            if connection is not None:
                connection.close()
            connection = None
        results.append((time.monotonic(), outcome, time.monotonic() - start, marked))
        if config.get("post_every"):
            queued.extend([key] if outcome == 200 else [])
            time.sleep(max(0.0, start + config["post_every"] - time.monotonic()))
        elif outcome != 200:
            time.sleep(0.05)
        else:
            time.sleep(max(0.0, start + config.get("every", EVERY) - time.monotonic()))


def percentile(values: list, share: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 4) if ordered else 0.0


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as handle:
        config = json.load(handle)
    Connection.address = config["address"]
    Connection.address_port = config.get("port", 443)
    results: list = []
    queued: list = []
    threads = [
        threading.Thread(target=client, args=(config, number % 2 == 0, results, queued))
        for number in range(config["clients"])
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counts: dict = {}
    for _, outcome, _, _ in results:
        counts[str(outcome)] = counts.get(str(outcome), 0) + 1
    print(
        json.dumps(
            {
                "counts": counts,
                "failures": [
                    [round(at, 3), str(outcome), round(took, 3)]
                    for at, outcome, took, _ in results
                    if outcome != 200
                ][:50],
                "p99_before": percentile([took for _, _, took, marked in results if not marked], 0.99),
                "p99_after": percentile([took for _, _, took, marked in results if marked], 0.99),
                "answered_after": sum(1 for _, outcome, _, marked in results if marked and outcome == 200),
                "queued": queued,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
