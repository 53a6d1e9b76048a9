"""The workers' metric files, kept as many as the processes that write them: the counts of a process
that is gone (a worker uWSGI recycled, every process of a reload) move into one archive file per
metric type, read at the next scrape with the living processes' files, and its live gauges go, as
prometheus_client's mark_process_dead does (docs/observability.md)."""

import glob
import os
import threading

from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

# The types whose counts only add up across processes; gauges are left as prometheus_client keeps them.
ADDED_UP = ("counter", "histogram", "summary")
ARCHIVE = "archive"


def writer_pid(path: str) -> int | None:
    """The process that writes <type>_<pid>.db; None for an archive."""
    tail = os.path.basename(path).split("_")[-1].removesuffix(".db")
    return int(tail) if tail.isdigit() else None


def running(pid: int) -> bool:
    """A process of this container, whichever user runs it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def compact(folder: str, alive=running) -> int:
    """Adds the files of processes no longer alive into their type's archive, then removes them; the
    number removed, with the live gauges of those processes (other gauges stay as they are). The
    archive is written aside and renamed over the old one: a scrape reads the old files or the new,
    never half of one (the caller keeps scrapes out meanwhile)."""
    removed = 0
    for path in glob.glob(os.path.join(folder, "gauge_live*_*.db")):
        if _gone(path, alive):
            mark_process_dead(writer_pid(path), folder)
            removed += 1
    for kind in ADDED_UP:
        gone = [path for path in glob.glob(os.path.join(folder, f"{kind}_*.db")) if _gone(path, alive)]
        if not gone:
            continue
        archive = os.path.join(folder, f"{kind}_{ARCHIVE}.db")
        sources = gone + ([archive] if os.path.exists(archive) else [])
        # Not *.db: no scrape reads it while it is written.
        aside = os.path.join(folder, f"{kind}_{ARCHIVE}.new")
        if os.path.exists(aside):
            os.unlink(aside)
        written = MmapedDict(aside)
        try:
            # accumulate=False: each bucket's own count, as the workers write them.
            for metric in MultiProcessCollector.merge(sources, accumulate=False):
                for sample in metric.samples:
                    key = mmap_key(
                        metric.name, sample.name, list(sample.labels), list(sample.labels.values()),
                        metric.documentation,
                    )  # fmt: skip
                    written.write_value(key, sample.value, 0.0)
        finally:
            written.close()
        os.replace(aside, archive)
        for path in gone:
            os.unlink(path)
        removed += len(gone)
    return removed


def _gone(path: str, alive) -> bool:
    pid = writer_pid(path)
    return pid is not None and not alive(pid)


class CompactingCollector(MultiProcessCollector):
    """prometheus_client's collector of the workers' files, which first archives those of processes
    that are gone: a scrape reads as many files as processes run, not every one that ever ran."""

    def __init__(self, registry, path: str):
        super().__init__(None, path=path)
        self._lock = threading.Lock()
        registry.register(self)

    def collect(self):
        # Scrapes may come together: none reads while another compacts.
        with self._lock:
            compact(self._path)
            return list(super().collect())
