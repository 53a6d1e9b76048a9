"""The whole machine's CPU, from /proc/stat: waiting for it to go quiet, and the time the VM lost."""

import os
import time
from dataclasses import dataclass

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Sample:
    """The summed `cpu` line of /proc/stat, in ticks: busy, steal (taken by the hypervisor), total."""

    busy: int
    steal: int
    total: int


def sample() -> Sample:
    """Read the counters now."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal [guest guest_nice, already inside user/nice]
    idle = fields[3] + fields[4]
    total = sum(fields[:8])
    return Sample(busy=total - idle, steal=fields[7], total=total)


def steal_seconds(before: Sample, after: Sample) -> float:
    """CPU seconds the hypervisor took from this VM between two samples (all cores)."""
    return round((after.steal - before.steal) / TICKS_PER_SECOND, 2)


def wait_until_quiet(max_busy: float, timeout: float, window: float = 0.25) -> bool:
    """Wait until the machine spent less than `max_busy` of its CPU over `window` seconds.

    False if it was still busier than that after `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = sample()
        time.sleep(window)
        after = sample()
        elapsed = after.total - before.total
        if elapsed and (after.busy - before.busy) / elapsed < max_busy:
            return True
    return False
