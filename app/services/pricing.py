"""The estimated cost of an event, from its model and tokens, priced by `genai-prices`.

The library's bundled price data is used (never fetched at run time). Its `calc_price` costs
~50 µs, too much for every event on the ingest path, so each model is looked up once and each
of its prices (a model may have several, by date or time of day) is resolved once: for a price
linear in tokens (no tiers), cost = fixed + a·in + b·out with a, b and fixed measured through
the library itself, in exact decimals; tiered prices go through the library each time. Costs
are stored in nano-dollars (integers), so sums are exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache

from genai_prices import Usage, data_snapshot, types

from app.services.validation import MAX_COST_USD

NANO = 1_000_000_000  # nano-dollars per dollar
_MTOK = 1_000_000
# The most one event may cost, as a client may state it (`cost_usd`): an estimate is clamped
# to it too, so no event's cost is unstorable and the rollups' sums stay bounded per event.
MAX_COST_NANO = MAX_COST_USD * NANO


# Linear prices are kept as integers in units of 10^-18 dollars (atto-dollars): every price in
# the data (dollars per million tokens, with a few decimals) is then an exact integer per token,
# and a cost is integer arithmetic, ~10x faster than Decimal.
_ATTO = 10**18
_ATTO_PER_NANO = _ATTO // NANO


@dataclass(frozen=True, slots=True)
class Price:
    """A model's price at one time: linear coefficients (atto-dollars), or the library's
    tiered price."""

    fixed: int
    per_input: int
    per_output: int
    tiered: types.ModelPrice | None = None

    def cost_nano(self, tokens_in: int, tokens_out: int) -> int:
        """The cost in nano-dollars (half to even) of one call with these token counts."""
        if self.tiered is not None:
            usage = Usage(input_tokens=tokens_in, output_tokens=tokens_out)
            return to_nano(self.tiered.calc_price(usage)["total_price"])
        atto = self.fixed + self.per_input * tokens_in + self.per_output * tokens_out
        nano, rest = divmod(atto, _ATTO_PER_NANO)
        half = _ATTO_PER_NANO // 2
        return nano + (rest > half or (rest == half and nano % 2 == 1))


def cost_nano(
    model: str | None, tokens_in: int | None, tokens_out: int | None, at: datetime
) -> int | None:
    """The estimated cost in nano-dollars of a call at `at`, at most MAX_COST_NANO; None when
    there is nothing to price (no tokens) or the model has no known price (the event is then
    "unpriced")."""
    if model is None or (tokens_in is None and tokens_out is None):
        return None
    price = price_of(model, at)
    if price is None:
        return None
    return min(price.cost_nano(tokens_in or 0, tokens_out or 0), MAX_COST_NANO)


def to_nano(dollars: Decimal | float) -> int:
    """Dollars as whole nano-dollars (half to even)."""
    return int((Decimal(dollars) * NANO).to_integral_value(ROUND_HALF_EVEN))


def price_of(model: str, at: datetime) -> Price | None:
    """The model's price at `at` (prices may change by date or time of day), or None when
    genai-prices does not know the model."""
    info = _model_info(model)
    if info is None:
        return None
    model_price = info.get_prices(at)
    # The snapshot's price objects live as long as the process: their id is a stable key.
    price = _PRICES.get(id(model_price))
    if price is None:
        price = _PRICES[id(model_price)] = _price(model_price)
    return price


_PRICES: dict[int, Price] = {}


def knows(model: str) -> bool:
    """Whether genai-prices has the model at all (remembered per name; ~0.1 µs)."""
    return _model_info(model) is not None


def load() -> None:
    """Load the bundled price data now (the first lookup would: ~16,000 objects, which the
    server wants loaded before it freezes its start-up objects out of the collector)."""
    data_snapshot.get_snapshot()


@lru_cache(maxsize=4096)
def _model_info(model: str) -> types.ModelInfo | None:
    try:
        _, info = data_snapshot.get_snapshot().find_provider_model(model, None, None, None)
    except LookupError:
        return None
    return info


def _price(model_price: types.ModelPrice) -> Price:
    if any(isinstance(value, types.TieredPrices) for value in vars(model_price).values()):
        return Price(0, 0, 0, tiered=model_price)

    def total(tokens_in: int, tokens_out: int) -> Decimal:
        usage = Usage(input_tokens=tokens_in, output_tokens=tokens_out)
        return model_price.calc_price(usage)["total_price"]

    fixed = total(0, 0)
    coefficients = [fixed, (total(_MTOK, 0) - fixed) / _MTOK, (total(0, _MTOK) - fixed) / _MTOK]
    scaled = [value * _ATTO for value in coefficients]
    if any(value != value.to_integral_value() for value in scaled):  # finer than 10^-18 $
        return Price(0, 0, 0, tiered=model_price)
    return Price(int(scaled[0]), int(scaled[1]), int(scaled[2]))
