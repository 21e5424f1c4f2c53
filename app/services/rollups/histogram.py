"""Latency histograms with logarithmic bins, and their two stored forms.

With G = GAMMA, bin `i` holds the values in (G^(i-1), G^i] and stands for 2·G^i/(G+1), which is
within ALPHA (1.5%) of every value in the bin, so a percentile read from a histogram is within
1.5% of the value of the exact rank (the DDSketch construction). PostgreSQL stores a histogram
as JSON text `{"bin": count}` and merges it in SQL; SQLite stores it packed (`pack`: ~800 bytes
for a day against ~2.7 kB of JSON) and its writer merges it in Python (`add_counts`).
"""

from __future__ import annotations

import math
import sys
from array import array

import orjson

ALPHA = 0.015
GAMMA = (1 + ALPHA) / (1 - ALPHA)
_LOG_GAMMA = math.log(GAMMA)
MIN_LATENCY_MS = 0.001  # smaller values (0 included) fall in this value's bin


def bin_of(latency_ms: float) -> int:
    """The histogram bin of a latency."""
    return math.ceil(math.log(max(latency_ms, MIN_LATENCY_MS)) / _LOG_GAMMA)


def value_of(index: int) -> float:
    """The value a bin stands for (within ALPHA of everything in it)."""
    return 2 * GAMMA**index / (GAMMA + 1)


def percentile(histogram: dict[int, int], q: float) -> float | None:
    """The q-quantile (0 < q ≤ 1) by nearest rank: the value of the ⌈q·n⌉-th smallest."""
    return percentiles(histogram, (q,))[0]


def percentiles(histogram: dict[int, int], qs: tuple[float, ...]) -> list[float | None]:
    """`percentile` of each q (ascending), in one pass over the sorted bins."""
    total = sum(histogram.values())
    if total <= 0:
        return [None] * len(qs)
    ranks = [max(1, math.ceil(q * total - 1e-9)) for q in qs]
    found: list[float | None] = []
    pending = iter(ranks)
    rank = next(pending)
    seen = 0
    for index in sorted(histogram):
        seen += histogram[index]
        while seen >= rank:
            found.append(value_of(index))
            rank = next(pending, total + 1)  # past the last one: never reached
    return found


def merge_into(target: dict[int, int], stored: str | bytes | None) -> None:
    """Add a stored histogram into `target`: JSON text `{"bin": count}` (PostgreSQL, and an
    empty histogram anywhere) or the binary form of `pack` (SQLite)."""
    if not stored or stored == "{}":
        return
    if isinstance(stored, bytes):
        low, counts = unpack(stored)
        for offset, count in enumerate(counts):
            if count:
                target[low + offset] = target.get(low + offset, 0) + count
        return
    for key, count in orjson.loads(stored).items():
        index = int(key)
        target[index] = target.get(index, 0) + int(count)


def unpack(stored: bytes) -> tuple[int, array[int]]:
    """The lowest bin and the counts of every bin from there on, of a `pack`ed histogram."""
    low = int.from_bytes(stored[:4], "little", signed=True)
    counts = array(chr(stored[4]), stored[5:])
    if sys.byteorder != "little":
        counts.byteswap()
    return low, counts


def pack(low: int, counts: array[int]) -> bytes:
    """A histogram as SQLite stores it: the lowest bin (4 bytes), the array's type code, and
    the counts of every bin from there to the highest (~800 bytes for a day, against ~2.7 kB
    of JSON: the rows a commit rewrites stay small, and so do the pages it writes)."""
    if sys.byteorder != "little":
        counts = array(counts.typecode, counts)
        counts.byteswap()
    return low.to_bytes(4, "little", signed=True) + counts.typecode.encode() + counts.tobytes()


def add_counts(
    base: tuple[int, array[int]] | None, delta: dict[int, int], *, in_place: bool = False
) -> tuple[int, array[int]]:
    """A histogram (lowest bin, counts; None when empty) plus `delta`. `base` is left untouched
    unless `in_place` (then its array is added to when the delta's bins fit in it: the SQLite
    writer's own histograms, which it forgets when a transaction fails). The work is in the
    size of the delta, not of the histogram."""
    first, last = min(delta), max(delta)
    if base is None:
        low, counts = first, array("I")
    elif in_place and first >= base[0] and last < base[0] + len(base[1]):
        low, counts = base
    else:
        low, counts = base[0], array(base[1].typecode, base[1])
    if first < low:
        counts = array(counts.typecode, bytes(counts.itemsize * (low - first))) + counts
        low = first
    if last >= low + len(counts):
        counts.extend(
            array(counts.typecode, bytes(counts.itemsize * (last + 1 - low - len(counts))))
        )
    for index, count in delta.items():
        try:
            counts[index - low] += count
        except OverflowError:  # a bin past 2^32 - 1: widen once to 64 bits
            counts = array("Q", counts)
            counts[index - low] += count
    return low, counts


def add_packed(stored: bytes | None, delta: dict[int, int]) -> bytes:
    """`stored` (a `pack`ed histogram, or None) plus `delta`, packed."""
    return pack(*add_counts(unpack(stored) if stored else None, delta))
