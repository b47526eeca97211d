"""What a model costs per month: through an API, or on rented GPUs.

API cost is traffic times price (US$ per 1M tokens, input and output priced apart).
Self-hosting is GPU-hours times the published hourly price, for GPUs kept on all month.
Break-even is the daily request count at which the two are equal. Every price keeps its
as-of date, because prices change faster than anything else in the catalog.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict

from knowledge.catalog import Offering

HOURS_PER_MONTH = 730.0
DAYS_PER_MONTH = 30.4


class CostEstimate(BaseModel):
    """Monthly cost for the requested traffic; None where a price is unknown."""

    model_config = ConfigDict(frozen=True)

    api_monthly_usd: float | None = None
    api_seller: str | None = None
    api_price_as_of: date | None = None
    selfhost_monthly_usd: float | None = None
    gpu_hourly_usd: float | None = None
    break_even_requests_per_day: float | None = None


def cheapest(offerings: list[Offering], tokens_in: float, tokens_out: float) -> Offering | None:
    """The offering with the lowest cost per request of the given shape."""
    if not offerings:
        return None
    return min(
        offerings,
        key=lambda o: (o.input_per_m * tokens_in + o.output_per_m * tokens_out, o.seller_id),
    )


def api_monthly(
    offering: Offering, requests_per_day: float, tokens_in: float, tokens_out: float
) -> float:
    """API bill for a month of traffic."""
    per_request = (tokens_in * offering.input_per_m + tokens_out * offering.output_per_m) / 1e6
    return per_request * requests_per_day * DAYS_PER_MONTH


def selfhost_monthly(gpu_hourly_usd: float, gpu_count: int) -> float:
    """Rented GPUs kept on for a whole month."""
    return gpu_hourly_usd * gpu_count * HOURS_PER_MONTH


def estimate(
    offerings: list[Offering],
    requests_per_day: float | None,
    tokens_in: float,
    tokens_out: float,
    gpu_hourly_usd: float | None,
    gpu_count: int,
) -> CostEstimate:
    """API and self-hosting cost for the traffic, and where they break even."""
    best = cheapest(offerings, tokens_in, tokens_out)
    api = None
    if best is not None and requests_per_day is not None:
        api = round(api_monthly(best, requests_per_day, tokens_in, tokens_out), 2)
    hosted = round(selfhost_monthly(gpu_hourly_usd, gpu_count), 2) if gpu_hourly_usd else None
    break_even = None
    if best is not None and hosted is not None:
        per_request = (tokens_in * best.input_per_m + tokens_out * best.output_per_m) / 1e6
        if per_request > 0:
            break_even = round(hosted / (per_request * DAYS_PER_MONTH), 1)
    return CostEstimate.model_construct(
        api_monthly_usd=api,
        api_seller=best.seller_id if best else None,
        api_price_as_of=best.as_of if best else None,
        selfhost_monthly_usd=hosted,
        gpu_hourly_usd=gpu_hourly_usd,
        break_even_requests_per_day=break_even,
    )
