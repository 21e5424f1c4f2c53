"""Sums of rollup rows as the metrics add them up, with dense latency histograms.

The overview's hourly windows read a few thousand rows (168-240 buckets for each model, and the
window before) and show three percentiles for every bucket of every series: ~1,200 histograms.
A histogram here is dense, (lowest bin, counts of every bin from there on), which is how
SQLite stores it (`pack`): merging two is a slice addition, and the percentiles are one
`accumulate` and a `bisect` per rank, in C, with no sorting of bins (what `percentiles` of a
dict does). The figures are exactly those of `Cell` and `rollups.percentiles`
(tests/test_metrics_sums.py checks them against each other on random data).
"""

from __future__ import annotations

import functools
import math
from bisect import bisect_left
from collections.abc import Hashable
from itertools import accumulate
from operator import add, itemgetter
from typing import Any

import orjson

from app.services.rollups import percentiles, unpack, value_of

_value_of = functools.cache(value_of)  # the same floats; bins are a few hundred at most
Dense = tuple[int, list[int]]  # (lowest bin, counts of every bin from there on)
COUNTS = (
    "events", "tokens_in", "tokens_out", "cost_nano", "unpriced", "feedback_positive",
    "feedback_negative", "sessions", "errors",
)  # fmt: skip
_counts_of = itemgetter(*COUNTS)


# Parsed histograms by their stored form: a past bucket's row never changes (an erasure changes
# its text, so it is another key), and the live overview reads the same rows at every tick.
# Parsing is most of a PostgreSQL overview's time (JSON); a hit is a hash and a compare. The
# lists are shared, so nothing changes them (`dense_sum` makes new ones). ~1.5 kB an entry.
PARSED_KEPT = 4096


@functools.lru_cache(maxsize=PARSED_KEPT)
def dense_of(stored: str | bytes | None) -> Dense | None:
    """A stored histogram (JSON text `{"bin": count}` or `pack`ed bytes), None when empty."""
    if not stored or stored == "{}":
        return None
    if isinstance(stored, bytes):
        first, packed = unpack(stored)
        return (first, packed.tolist()) if packed else None
    bins = orjson.loads(stored)
    if not bins:
        return None
    indexes = list(map(int, bins))
    low = min(indexes)
    counts = [0] * (max(indexes) - low + 1)
    for index, count in zip(indexes, bins.values(), strict=True):
        counts[index - low] = int(count)
    return low, counts


def dense_sum(hists: list[Dense]) -> Dense | None:
    """The sum of histograms, in one new list (none of them is changed: rows share theirs)."""
    if len(hists) <= 1:
        return hists[0] if hists else None
    low = min(hist[0] for hist in hists)
    counts = [0] * (max(first + len(bins) for first, bins in hists) - low)
    for first, bins in hists:
        start = first - low
        end = start + len(bins)
        counts[start:end] = map(add, counts[start:end], bins)
    return low, counts


def dense_percentiles(hist: Dense | None, qs: tuple[float, ...]) -> list[float | None]:
    """`rollups.percentiles` of a dense histogram (the same values: nearest rank, each q in
    ascending order)."""
    if hist is None:
        return [None] * len(qs)
    low, counts = hist
    running = list(accumulate(counts))
    total = running[-1]
    if total <= 0:
        return [None] * len(qs)
    if min(counts) < 0:  # never stored, but then the running sum is not sorted: the dict walk
        return percentiles({low + i: n for i, n in enumerate(counts) if n}, qs)
    return [_value_of(low + bisect_left(running, max(1, math.ceil(q * total - 1e-9)))) for q in qs]


class Sum:
    """The counts of rollup rows summed (what a `Cell` holds, its histogram dense): `counts`
    in the order of COUNTS. Never changed once made: sums share their rows' histograms.

    `key` says what it is the sum of, when it is a row or a sum of rows: (counts, stored
    histogram) of a row, the tuple of its parts' keys for a sum. Equal keys are equal sums,
    so what is derived from a sum can be kept by its key (`sum_of` keeps sums, the metrics
    their figures): the live overview reads the same past rows at every tick."""

    __slots__ = ("counts", "hist", "key")

    def __init__(
        self,
        counts: tuple[int, ...] = (0,) * len(COUNTS),
        hist: Dense | None = None,
        key: Hashable | None = None,
    ):
        self.counts = counts
        self.hist = hist
        self.key = key

    @property
    def events(self) -> int:
        """Events counted."""
        return self.counts[0]

    @property
    def sessions(self) -> int:
        """Sessions started."""
        return self.counts[7]

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Sum:
        """A stored `metric_rollups` row (as `Cell.from_row` reads it)."""
        counts, stored = tuple(map(int, _counts_of(row))), row["latency_hist"]
        return cls(counts, dense_of(stored), (counts, stored))

    def latency(self) -> list[float | None]:
        """p50, p95 and p99 of the latency (ms), None each without a latency."""
        return dense_percentiles(self.hist, (0.50, 0.95, 0.99))


EMPTY = Sum()


# Sums of rows by their key (a bucket of every model, a model's window): a past bucket's are
# the same at every tick of a live overview. Bounded: emptied when full (~2 kB an entry).
SUMS_KEPT = 4096
_sums: dict[Hashable, Sum] = {}


def sum_of(sums: list[Sum]) -> Sum:
    """The sum of several sums (one of them when there is only one); kept by its key when
    every part has one."""
    if len(sums) <= 1:
        return sums[0] if sums else EMPTY
    key = keys_of(sums)
    if key is not None and (kept := _sums.get(key)) is not None:
        return kept
    counts = tuple([sum(column) for column in zip(*[each.counts for each in sums], strict=True)])
    total = Sum(counts, dense_sum([each.hist for each in sums if each.hist is not None]), key)
    if key is not None:
        if len(_sums) >= SUMS_KEPT:
            _sums.clear()
        _sums[key] = total
    return total


def keys_of(sums: list[Sum]) -> Hashable | None:
    """The key of the sum of `sums` (None when one of them has none)."""
    keys = tuple(each.key for each in sums)
    return None if None in keys else keys
