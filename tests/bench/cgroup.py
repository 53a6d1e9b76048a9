"""CPU time and peak memory of a running container, from its own cgroup (v1 or v2)."""

import subprocess

# (CPU file, its unit in seconds, peak-memory file), cgroup v2 first.
LAYOUTS = (
    ("/sys/fs/cgroup/cpu.stat", 1e-6, "/sys/fs/cgroup/memory.peak"),
    ("/sys/fs/cgroup/cpuacct/cpuacct.usage", 1e-9, "/sys/fs/cgroup/memory/memory.max_usage_in_bytes"),
)


def _read(container: str, path: str) -> str | None:
    result = subprocess.run(["docker", "exec", container, "cat", path], capture_output=True, text=True,
                            check=False, timeout=30)
    return result.stdout if result.returncode == 0 else None


def counters(container: str) -> tuple[float, int]:
    """(CPU seconds used since the container started, its peak memory in bytes)."""
    for cpu_path, unit, peak_path in LAYOUTS:
        cpu_text = _read(container, cpu_path)
        if cpu_text is None:
            continue
        if cpu_path.endswith("cpu.stat"):
            cpu_text = next(line.split()[1] for line in cpu_text.splitlines() if line.startswith("usage_usec"))
        peak_text = _read(container, peak_path) or "0"
        return int(cpu_text.strip()) * unit, int(peak_text.strip())
    raise RuntimeError(f"{container}: no cgroup CPU counters found (neither cgroup v2 nor v1 layout)")
