"""The suite's results: runs gathered into rows, the targets judged, and the tables printed."""

import math
import statistics
from collections import Counter
from dataclasses import asdict, dataclass, field, fields

from dockerable.bench.configurations import (
    GRANIAN,
    GUNICORN,
    NO_FASTROUTER,
    NO_HEADERS,
    NO_METRICS,
    PLAIN_HTTP,
    QUIET_LOG,
    SHIPPED,
    SWARM_PROCESSES,
    SWARM_REPLICAS,
    WITHOUT_THREE,
    WORKERS,
)
from dockerable.bench.login import CLIENTS, LIGHT_LOAD

PROD = "prod (uWSGI HTTPS)"
PROXY = "proxy (nginx -> uWSGI)"
DEV = "dev (runserver)"
SWARM = f"swarm (nginx -> {SWARM_REPLICAS} tasks x {SWARM_PROCESSES} workers)"
# The modes the template ships: the latency target is theirs to meet. The grid's
# alternatives and the baselines are printed with their tails, not judged on them.
SHIPPED_MODES = (PROD, PROXY, DEV, SWARM)
SHIPPED_COPY = f"grid: {SHIPPED} (shipped)"


def block(configuration: str, endpoint: str) -> str:
    """Which runs each round makes back to back: those that a target compares.

    The machine's speed drifts by 10-30% over a minute or two, so each ratio target is
    taken per round, between runs seconds apart, and the median of those is judged.
    """
    if configuration.startswith("grid: ") or configuration == PLAIN_HTTP:
        return f"grid {endpoint}"
    if configuration == DEV:
        return f"dev {endpoint}"
    return f"direct, proxy and baselines {endpoint}"


def percentile(histogram: dict[int, int], level: float) -> float | None:
    """The `level` percentile (ms) of a {microseconds: requests} histogram: the latency that
    `level`% of the requests did not exceed (nearest rank)."""
    total = sum(histogram.values())
    if not total:
        return None
    rank, seen = math.ceil(total * level / 100), 0
    for microseconds in sorted(histogram):
        seen += histogram[microseconds]
        if seen >= rank:
            return microseconds / 1000
    raise AssertionError("unreachable: the ranks add up to the total")


class Latencies:
    """p50, p99 and their ratio, for anything with a {microseconds: requests} `histogram`."""

    histogram: dict[int, int]

    @property
    def p50_ms(self) -> float | None:
        """The median latency."""
        return percentile(self.histogram, 50)

    @property
    def p99_ms(self) -> float | None:
        """The 99th percentile latency."""
        return percentile(self.histogram, 99)

    @property
    def tail(self) -> float | None:
        """p99 / p50."""
        p50, p99 = self.p50_ms, self.p99_ms
        return round(p99 / p50, 2) if p50 and p99 else None


@dataclass
class Run(Latencies):
    """One wrk run on one configuration and endpoint (errors -1: the run itself failed)."""

    requests_per_second: float
    errors: int
    cpu_seconds: float
    peak_mb: float
    requests: int = 0
    # {microseconds: requests} (load.LoadResult.histogram).
    histogram: dict[int, int] = field(default_factory=dict)
    # CPU seconds the hypervisor took from the whole VM during the run: a slow run with a
    # high figure here was slowed by the machine, not by the configuration.
    steal_seconds: float = 0.0

    @classmethod
    def from_dict(cls, data: dict) -> "Run":
        """A run as `Row.as_dict` wrote it (JSON made the histogram's keys strings)."""
        run = cls(**{item.name: data[item.name] for item in fields(cls)})
        run.histogram = {int(microseconds): count for microseconds, count in run.histogram.items()}
        return run


@dataclass
class Row(Latencies):
    """Every run of one configuration on one endpoint."""

    configuration: str
    endpoint: str
    runs: list[Run] = field(default_factory=list)

    def _median(self, name: str) -> float:
        return round(statistics.median(getattr(run, name) for run in self.runs), 2)

    @property
    def requests_per_second(self) -> float:
        """Median over the runs: one slow run on a shared machine does not decide a ratio."""
        return self._median("requests_per_second")

    @property
    def histogram(self) -> Counter:
        """Every request of every run, the runs' histograms added up: the row's p50 and p99 are
        pooled, not medians of medians, and a slow round counts by the requests it slowed."""
        return sum((Counter(run.histogram) for run in self.runs), Counter())

    @property
    def worst_tail(self) -> float | None:
        """The largest p99/p50 of any single run (printed beside the pooled one)."""
        return max((run.tail for run in self.runs if run.tail is not None), default=None)

    @property
    def errors(self) -> int:
        """Every error of every run; a run that failed outright counts as one."""
        return sum(abs(run.errors) for run in self.runs)

    @property
    def cpu_seconds(self) -> float:
        """Median CPU seconds of one run, server containers only."""
        return self._median("cpu_seconds")

    @property
    def peak_mb(self) -> float:
        """Peak memory of the server containers since they started."""
        return max(run.peak_mb for run in self.runs)

    def as_dict(self) -> dict:
        """For the JSON report: the summary and every run."""
        return {
            "configuration": self.configuration,
            "endpoint": self.endpoint,
            "requests_per_second": self.requests_per_second,
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "p99_over_p50": self.tail,
            "worst_round_p99_over_p50": self.worst_tail,
            "errors": self.errors,
            "cpu_seconds": self.cpu_seconds,
            "peak_mb": self.peak_mb,
            "runs": [{**asdict(run), "p50_ms": run.p50_ms, "p99_ms": run.p99_ms} for run in self.runs],
        }


@dataclass
class Report:
    """Everything one run of the suite measured."""

    rows: list[Row] = field(default_factory=list)
    measures: dict = field(default_factory=dict)
    samples: dict = field(default_factory=dict)
    targets: list[dict] = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    def row(self, configuration: str, endpoint: str) -> Row:
        """The row of `configuration` on `endpoint`, added empty the first time."""
        found = self.find(configuration, endpoint)
        if found is None:
            found = Row(configuration, endpoint)
            self.rows.append(found)
        return found

    def find(self, configuration: str, endpoint: str) -> Row | None:
        """The row of `configuration` on `endpoint`, if there is one."""
        matches = (row for row in self.rows if (row.configuration, row.endpoint) == (configuration, endpoint))
        return next(matches, None)

    def rps(self, configuration: str, endpoint: str = "/healthz") -> float | None:
        """Median requests/s of one row, if it was measured."""
        row = self.find(configuration, endpoint)
        return row.requests_per_second if row and row.runs else None

    def round_ratios(self, numerator: str, denominator: str, endpoint: str = "/healthz") -> dict[int, float]:
        """{round: numerator's req/s / denominator's} for each round both were measured in.

        Run i of every row is round i: each round measures every load once.
        """
        top, bottom = self.find(numerator, endpoint), self.find(denominator, endpoint)
        if top is None or bottom is None:
            return {}
        return {
            number: above.requests_per_second / below.requests_per_second
            for number, (above, below) in enumerate(zip(top.runs, bottom.runs, strict=False))
            if above.requests_per_second and below.requests_per_second
        }

    def worst_of(self, name: str, values: list[float]) -> None:
        """A timing measured several times: its worst value is what the target judges."""
        self.samples[name] = values
        self.measures[name] = max(values)

    def as_dict(self) -> dict:
        """The JSON report."""
        return {
            "meta": self.meta,
            "rows": [row.as_dict() for row in self.rows],
            "measures": self.measures,
            "samples": self.samples,
            "targets": self.targets,
        }


def ratio(numerator, denominator):
    """numerator / denominator, or None if either is missing."""
    if not numerator or not denominator:
        return None
    return round(numerator / denominator, 2)


def median_of(ratios: dict[int, float]) -> float | None:
    """The median of per-round ratios, or None if no round measured both sides."""
    return round(statistics.median(ratios.values()), 2) if ratios else None


def grid_alternatives(report: Report) -> list[str]:
    """The grid's configurations other than the shipped settings' copy."""
    names = [row.configuration for row in report.rows if row.configuration.startswith("grid: ")]
    return [name for name in dict.fromkeys(names) if name != SHIPPED_COPY]


def grid_scores(report: Report) -> dict[str, float]:
    """Each grid configuration's geometric mean of median req/s over /healthz and /, the shipped one included.

    /healthz is mostly server overhead and the page mostly Django and PostgreSQL; they rank
    the settings differently, and a default has to serve both.
    """
    scores = {}
    for name in [SHIPPED_COPY, *grid_alternatives(report)]:
        values = [report.rps(name, endpoint) for endpoint in ("/healthz", "/")]
        if all(values):
            scores[name] = round(math.sqrt(values[0] * values[1]), 1)
    return scores


def shipped_over_grid(report: Report) -> dict[str, float]:
    """For each grid alternative: the shipped settings' score over its score, per round, median.

    A round's score ratio is the geometric mean of its /healthz and / ratios, each taken
    between runs of the same block (seconds apart).
    """
    result = {}
    for name in grid_alternatives(report):
        healthz = report.round_ratios(SHIPPED_COPY, name, "/healthz")
        page = report.round_ratios(SHIPPED_COPY, name, "/")
        both = {number: math.sqrt(healthz[number] * page[number]) for number in healthz.keys() & page.keys()}
        if both:
            result[name] = median_of(both)
    return result


def cost(report: Report, without: str, shipped: str = PROD) -> float | None:
    """The share of /healthz req/s a feature costs: 1 - shipped / the same without it (None if unmeasured)."""
    over = median_of(report.round_ratios(shipped, without))
    return round(1 - over, 3) if over else None


def evaluate(report: Report) -> None:
    """Each target with its measured value and PASS/FAIL (n/a when not measured in this run).

    Ratios are medians of per-round ratios (see `block`), not ratios of medians.
    """
    measures = report.measures
    against_grid = shipped_over_grid(report)
    closest = min(against_grid, key=against_grid.get) if against_grid else None
    # Like with like: both without published ports, the same settings but for the HTTP router.
    https_cost = cost(report, PLAIN_HTTP, SHIPPED_COPY)
    headers_cost = cost(report, NO_HEADERS)
    buffering_cost = cost(report, NO_FASTROUTER)
    logging_cost = cost(report, QUIET_LOG)
    metrics_cost = cost(report, NO_METRICS)
    tails = [row.tail for row in report.rows if row.configuration in SHIPPED_MODES and row.tail]
    checks = [
        (
            "prod >= 1.2x gunicorn sync on /healthz req/s",
            median_of(report.round_ratios(PROD, GUNICORN)),
            lambda v: v >= 1.2,
        ),
        (
            "shipped >= 0.95x each grid alternative, geometric mean of /healthz and / req/s "
            f"(closest: {closest or 'n/a'})",
            against_grid.get(closest),
            lambda v: v >= 0.95,
        ),
        (
            "HTTPS costs <= 15% req/s against plain HTTP (shipped settings, grid row)",
            https_cost,
            lambda v: v <= 0.15,
        ),
        (
            "security headers cost <= 10% of prod's /healthz req/s (against an empty list)",
            headers_cost,
            lambda v: v <= 0.10,
        ),
        (
            "reading bodies first (fastrouter) costs <= 10% of prod's /healthz req/s",
            buffering_cost,
            lambda v: v <= 0.10,
        ),
        (
            "logging every request costs <= 10% of prod's /healthz req/s (against errors only)",
            logging_cost,
            lambda v: v <= 0.10,
        ),
        (
            "metrics cost <= 5% of prod's /healthz req/s (against DJANGO_METRICS=false)",
            metrics_cost,
            lambda v: v <= 0.05,
        ),
        (
            "prod >= 0.9x Granian (HTTPS, access log) on /healthz req/s",
            median_of(report.round_ratios(PROD, GRANIAN)),
            lambda v: v >= 0.9,
        ),
        (
            "prod >= 1.0x Granian (HTTPS, access log) on / req/s",
            median_of(report.round_ratios(PROD, GRANIAN, "/")),
            lambda v: v >= 1.0,
        ),
        (
            "where the Granian gap is: prod without body reading, request log and metrics "
            ">= 0.9x Granian on /healthz req/s",
            median_of(report.round_ratios(WITHOUT_THREE, GRANIAN)),
            lambda v: v >= 0.9,
        ),
        (
            "proxy >= 1.0x direct on /healthz req/s",
            median_of(report.round_ratios(PROXY, PROD)),
            lambda v: v >= 1.0,
        ),
        (
            "swarm >= 0.9x proxy on /healthz req/s (same total workers)",
            median_of(report.round_ratios(SWARM, PROXY)),
            lambda v: v >= 0.9,
        ),
        (
            "swarm >= 0.9x proxy on / req/s (same total workers)",
            median_of(report.round_ratios(SWARM, PROXY, "/")),
            lambda v: v >= 0.9,
        ),
        ("zero errors in every run", sum(row.errors for row in report.rows), lambda v: v == 0),
        (
            "zero failed requests during a Swarm rolling update",
            measures.get("rolling_update_errors"),
            lambda v: v == 0,
        ),
        (
            "p99 during a Swarm rolling update <= 3x p99 before it",
            measures.get("rolling_update_p99_over_before"),
            lambda v: v <= 3,
        ),
        (
            "p99 <= 5x p50 over all requests of each shipped mode (prod, proxy, dev, swarm)",
            max(tails, default=None),
            lambda v: v <= 5,
        ),
        ("bytes added over the base image <= 60 MB", measures.get("added_over_base_mb"), lambda v: v <= 60),
        (
            "code-only rebuild <= 0.1x cold build",
            ratio(measures.get("code_rebuild_s"), measures.get("cold_build_s")),
            lambda v: v <= 0.1,
        ),
        ("prod up to first 200 <= 5 s (worst sample)", measures.get("prod_up_to_200_s"), lambda v: v <= 5),
        ("dev up to first 200 <= 5 s (worst sample)", measures.get("dev_up_to_200_s"), lambda v: v <= 5),
        ("dev edit to served <= 2 s (worst sample)", measures.get("dev_edit_to_served_s"), lambda v: v <= 2),
        (
            f"page p99 <= 250 ms while {CLIENTS} clients send bad logins "
            f"({LIGHT_LOAD} connections load the page; median of runs)",
            measures.get("page_p99_ms_during_login_flood"),
            lambda v: v <= 250,
        ),
        (
            "/healthz req/s while backups run >= 0.8x idle (median of pairs)",
            measures.get("healthz_during_backup_over_idle"),
            lambda v: v >= 0.8,
        ),
        (
            "the page's req/s while the worker drains a backlog >= 0.95x idle (median of pairs)",
            measures.get("page_while_worker_busy_over_idle"),
            lambda v: v >= 0.95,
        ),
        (
            "the page with its list from the cache >= 3x from the database (median of pairs)",
            measures.get("page_cached_over_uncached"),
            lambda v: v >= 3,
        ),
    ]
    report.targets = [
        {
            "target": name,
            "value": value,
            "result": "n/a" if value is None else ("PASS" if passes(value) else "FAIL"),
        }
        for name, value, passes in checks
    ]


def markdown(report: Report) -> str:
    """The tables, as printed and as pasted into README.md."""
    meta = report.meta
    combined = f"{len(meta['combined'])} runs of the suite combined: " if meta.get("combined") else ""
    lines = [
        f"{combined}Measured {meta['date']} on {meta['machine']}; "
        f"{meta['rounds']} rounds of {meta['seconds']} s runs, each round in its own shuffled order, "
        f"with the runs a target compares back to back (seed {meta.get('seed', 'n/a')}); "
        "wrk -t2 -c32 with keep-alive from inside the compose network; "
        f"{WORKERS} workers everywhere unless the row says otherwise. "
        "req/s and CPU s are medians over the rounds; p50, p99 and p99/p50 are over every request "
        "of every round; the worst round's p99/p50 is beside them; errors are the total. "
        "Target ratios are medians of per-round ratios.",
        "",
        "| configuration | endpoint | req/s | p50 ms | p99 ms | p99/p50 | worst round p99/p50 | errors "
        "| CPU s | peak MB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r.configuration} | {r.endpoint} | {r.requests_per_second:.0f} | {r.p50_ms or 0:.2f} | "
        f"{r.p99_ms or 0:.2f} | {r.tail or 0:.1f} | {r.worst_tail or 0:.1f} | {r.errors} | "
        f"{r.cpu_seconds:.1f} | {r.peak_mb:.0f} |"
        for r in report.rows
        if r.runs
    ]
    scores, against = grid_scores(report), shipped_over_grid(report)
    if len(scores) > 1:
        lines += [
            "",
            "| grid configuration | geometric mean req/s of /healthz and / | shipped / this, per round |",
            "|---|---:|---:|",
        ]
        lines += [
            f"| {name} | {score:.0f} | {against.get(name, '')} |"
            for name, score in sorted(scores.items(), key=lambda s: -s[1])
        ]
    if report.measures:
        lines += ["", "| measure | value |", "|---|---:|"]
        for name, value in report.measures.items():
            samples = report.samples.get(name)
            if samples and len(samples) > 1:
                value = f"{value} (worst of {', '.join(map(str, samples))})"
            lines.append(f"| {name} | {value} |")
    lines += ["", "| target | value | result |", "|---|---:|---|"]
    lines += [
        f"| {t['target']} | {'' if t['value'] is None else t['value']} | {t['result']} |"
        for t in report.targets
    ]
    return "\n".join(lines)
