"""CPU time and peak memory of a running container, from its own cgroup (v1 or v2)."""

import subprocess

# One `docker exec` per reading: the CPU counter (v2: usage_usec in cpu.stat; v1: cpuacct.usage
# in ns), then the peak memory in bytes (0 where the kernel does not keep it).
READ = """
if [ -f /sys/fs/cgroup/cpu.stat ]; then
    echo v2; grep '^usage_usec' /sys/fs/cgroup/cpu.stat | cut -d' ' -f2
    cat /sys/fs/cgroup/memory.peak 2>/dev/null || echo 0
elif [ -f /sys/fs/cgroup/cpuacct/cpuacct.usage ]; then
    echo v1; cat /sys/fs/cgroup/cpuacct/cpuacct.usage
    cat /sys/fs/cgroup/memory/memory.max_usage_in_bytes 2>/dev/null || echo 0
fi
"""
UNITS = {"v2": 1e-6, "v1": 1e-9}


def counters(container: str) -> tuple[float, int]:
    """(CPU seconds used since the container started, its peak memory in bytes)."""
    result = subprocess.run(
        ["docker", "exec", container, "sh", "-c", READ],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    lines = result.stdout.split()
    if result.returncode != 0 or len(lines) != 3 or lines[0] not in UNITS:
        raise RuntimeError(
            f"{container}: no cgroup CPU counters found (neither cgroup v2 nor v1 layout): "
            f"{result.stderr.strip() or result.stdout.strip()}"
        )
    return int(lines[1]) * UNITS[lines[0]], int(lines[2])
