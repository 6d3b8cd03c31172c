"""CPU seconds spent on a store's work: this process's, and a local PostgreSQL server's.

This machine is shared and its wall-clock times swing with what else runs on it; CPU seconds
swing far less. For PostgreSQL the work is split between this process and the server processes
serving its connections; when the server runs on this machine (loopback), their CPU time is read
from /proc, so a benchmark can compare the total cost of two ways of loading the same rows.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from sqlalchemy import Engine, text

_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def store_cpu_seconds(engine: Engine) -> float:
    """CPU seconds used so far by this process plus the server processes of ``engine``'s database.

    Differences between two calls count the work in between, as long as the connections doing it
    stay open (a pooled engine keeps them). Server processes that cannot be read (a remote
    server) count as zero: the result is then this process's time only.
    """
    total = time.process_time()
    if engine.dialect.name != "postgresql":
        return total
    with engine.connect() as connection:
        pids = connection.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        ).scalars()
        for pid in pids:
            total += _process_cpu_seconds(pid)
    return total


def _process_cpu_seconds(pid: int) -> float:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # Fields after the command name (which may hold spaces): utime and stime are 14th and 15th.
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS_PER_SECOND
