"""CPU time and memory of a process, read from /proc (Linux only)."""

import os

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """Return user plus system CPU time of `pid` in seconds (fields 14 and 15 of stat)."""
    with open(f"/proc/{pid}/stat") as file:
        text = file.read()
    # The command name in brackets may contain spaces, so split after its closing bracket.
    fields = text[text.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def memory_kb(pid: int) -> dict[str, int]:
    """Return VmRSS and VmHWM (peak resident set) of `pid` in KiB."""
    values = {"VmRSS": 0, "VmHWM": 0}
    with open(f"/proc/{pid}/status") as file:
        for line in file:
            name, _, rest = line.partition(":")
            if name in values:
                values[name] = int(rest.split()[0])
    return values


def snapshot(pids: dict[str, int]) -> dict[str, dict[str, float]]:
    """Return CPU seconds and memory of each named process that is still running."""
    result: dict[str, dict[str, float]] = {}
    for name, pid in pids.items():
        try:
            memory = memory_kb(pid)
            result[name] = {"cpu": cpu_seconds(pid), "rss_kb": memory["VmRSS"],
                            "hwm_kb": memory["VmHWM"]}
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return result
