"""How the interpreter's memory is managed while the store does bulk work."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# Allocations between collections of the youngest generation while bulk work runs (700 by
# default); the older generations follow at their usual ratios, so 140 times less often too.
BULK_GC_THRESHOLD = 100_000


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the cyclic garbage collector less often for the length of a bulk job.

    Imports and resolves allocate millions of short-lived containers (rows, records, Splink's
    SQL trees) over a heap that holds every loaded module and often every source record, and
    reference counting frees nearly all of them; at the default threshold the collector ran
    hundreds of times and scanned the whole heap several times to free almost nothing: a tenth
    of a 10,000-record resolve, a sixth of importing FEBRL4's two files. Collections still
    happen, and the old thresholds come back afterwards.
    """
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], BULK_GC_THRESHOLD), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
