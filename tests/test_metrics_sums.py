"""The metrics' dense sums (app/services/metrics_sums.py) give exactly the figures of the
rollups' `Cell` and `percentiles` they replaced, on random rows in both stored forms.

The old computation is the reference: a row read with `Cell.from_row`, cells merged with
`Cell.add`, percentiles by `rollups.percentiles` over the dict of bins. Every count and every
percentile must be equal (==, not approximately), whatever the order of the additions.
"""

from __future__ import annotations

import random
from array import array

import orjson
import pytest

from app.services import rollups
from app.services.metrics_sums import COUNTS, Sum, dense_of, dense_percentiles, dense_sum, sum_of
from app.services.rollups import Cell

QS = (0.50, 0.95, 0.99)


def random_bins(rng: random.Random) -> dict[int, int]:
    """A histogram as the rollups hold one: empty, one bin, or a spread of bins (negative bins
    are latencies under 1 ms), some with a count of 0 (left by an erasure)."""
    shape = rng.random()
    if shape < 0.1:
        return {}
    centre = rng.randint(-60, 400)
    width = 1 if shape < 0.25 else rng.randint(2, 250)
    bins = {}
    for _ in range(rng.randint(1, 120)):
        bins[centre + rng.randint(-width, width)] = rng.choice((0, 1, 1, 2, 3, 50, 10**6))
    return bins


def stored(bins: dict[int, int], packed: bool) -> str | bytes:
    """The bins as SQLite (`pack`) or PostgreSQL (JSON text) store them."""
    if not packed:
        return orjson.dumps({str(k): v for k, v in bins.items()}).decode()
    live = {k: v for k, v in bins.items() if v}
    if not live:
        return b""
    low, high = min(live), max(live)
    return rollups.pack(low, array("I", [live.get(i, 0) for i in range(low, high + 1)]))


def random_row(rng: random.Random, packed: bool) -> dict[str, object]:
    """A `metric_rollups` row as the metrics read it."""
    row: dict[str, object] = {name: rng.choice((0, 1, rng.randint(0, 10**12))) for name in COUNTS}
    row["latency_hist"] = stored(random_bins(rng), packed)
    return row


def assert_same(cell: Cell, total: Sum) -> None:
    """Every count equal, and the percentiles equal to the old dict walk's."""
    assert list(total.counts) == [getattr(cell, name) for name in COUNTS]
    assert (total.events, total.sessions) == (cell.events, cell.sessions)
    assert total.latency() == rollups.percentiles(cell.histogram, QS)


@pytest.mark.parametrize("packed", [True, False], ids=["sqlite-packed", "postgres-json"])
@pytest.mark.parametrize("seed", range(6), ids=[f"seed{n}" for n in range(6)])
def test_sums_of_random_rows_equal_the_cells_they_replace(packed: bool, seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(200):
        rows = [random_row(rng, packed) for _ in range(rng.randint(1, 12))]
        cell, sums = Cell(), []
        for row in rows:
            one_cell, one_sum = Cell.from_row(row), Sum.from_row(row)
            assert_same(one_cell, one_sum)
            cell.add(one_cell)
            sums.append(one_sum)
        assert_same(cell, sum_of(sums))
        halves = [sum_of(sums[: len(sums) // 2]), sum_of(sums[len(sums) // 2 :])]
        assert_same(cell, sum_of(rng.sample(halves, 2)))  # a sum of sums, in another order


def test_adding_leaves_the_added_histograms_as_they_were() -> None:
    """Rows' histograms are shared (a model's cell is also in its bucket's sum)."""
    a, b = dense_of(stored({3: 1, 5: 2}, True)), dense_of(stored({1: 4, 9: 1}, False))
    assert a is not None and b is not None
    before = (list(a[1]), list(b[1]))
    assert dense_sum([a, b]) == (1, [4, 0, 1, 0, 2, 0, 0, 0, 1])
    assert (a[1], b[1]) == before


def test_percentiles_of_edge_histograms_equal_the_dict_walk() -> None:
    for bins in ({}, {0: 0}, {7: 1}, {-3: 2, 40: 1}, {1: 0, 2: 5, 3: 0}, {5: 3, 6: -1, 9: 2}):
        dense = dense_of(stored(bins, False))
        assert dense_percentiles(dense, QS) == rollups.percentiles(bins, QS), bins
