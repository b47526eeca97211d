"""What a model costs per month: through an API, or on rented GPUs.

API cost is traffic times price (US$ per 1M tokens, input and output priced apart).
Self-hosting is GPU-hours times the published hourly price, for GPUs kept on all month.
Break-even is the daily volume at which the two are equal. Every price keeps its as-of
date, because prices change faster than anything else in the catalog.

Sizing a self-hosted deployment for a traffic (:func:`selfhost_quote`) rests on two stated
assumptions, both shown in every answer: traffic peaks at :data:`PEAK_FACTOR` times its
daily average, and one replica serving many requests at once with continuous batching
(vLLM, SGLang) generates about :data:`BATCH_SPEEDUP` times the tokens/s of one stream.
Output tokens bound the GPUs needed; prompt tokens are processed far faster and are not
counted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from pydantic import BaseModel, ConfigDict

from knowledge.catalog import Offering

HOURS_PER_MONTH = 730.0
DAYS_PER_MONTH = 30.4
SECONDS_PER_DAY = 86_400.0
#: Busy hours carry about twice the daily average (an assumption, stated in answers).
PEAK_FACTOR = 2.0
#: Aggregate tokens/s of a batching server over one stream's (an assumption, stated).
BATCH_SPEEDUP = 8.0


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


@dataclass(frozen=True)
class Traffic:
    """A day of requests, each with so many input and output tokens."""

    requests_per_day: float
    tokens_in: float
    tokens_out: float

    @property
    def tokens_per_day(self) -> float:
        """Input plus output tokens a day."""
        return self.requests_per_day * (self.tokens_in + self.tokens_out)

    @property
    def peak_output_tokens_per_s(self) -> float:
        """Output tokens a second at the busy-hour peak."""
        return self.requests_per_day * self.tokens_out / SECONDS_PER_DAY * PEAK_FACTOR


class ApiQuote(BaseModel):
    """One API model's monthly bill for the traffic, with the price's date."""

    model_config = ConfigDict(frozen=True)

    model: str
    seller: str
    input_per_m: float
    output_per_m: float
    monthly_usd: float
    as_of: date


class SelfHostQuote(BaseModel):
    """Rented GPUs sized for the traffic: replicas of one model, kept on all month."""

    model_config = ConfigDict(frozen=True)

    model: str
    gpu: str
    precision: str
    gpu_hourly_usd: float
    price_as_of: date | None
    gpus_per_replica: int
    replicas: int
    stream_tokens_per_s: float
    needed_tokens_per_s: float
    monthly_usd: float

    @property
    def gpus(self) -> int:
        """GPUs in total."""
        return self.gpus_per_replica * self.replicas


def api_quote(offering: Offering, traffic: Traffic) -> ApiQuote:
    """The monthly bill of ``traffic`` at one offering's prices."""
    monthly = api_monthly(offering, traffic.requests_per_day, traffic.tokens_in, traffic.tokens_out)
    return ApiQuote(
        model=offering.variant_id,
        seller=offering.seller_id,
        input_per_m=offering.input_per_m,
        output_per_m=offering.output_per_m,
        monthly_usd=round(monthly, 2),
        as_of=offering.as_of,
    )


def selfhost_quote(
    model: str,
    gpu: str,
    precision: str,
    gpu_hourly_usd: float,
    price_as_of: date | None,
    gpus_per_replica: int,
    stream_tokens_per_s: float,
    traffic: Traffic,
) -> SelfHostQuote:
    """Replicas needed for the peak output rate, and what they cost a month."""
    needed = traffic.peak_output_tokens_per_s
    per_replica = stream_tokens_per_s * BATCH_SPEEDUP
    replicas = max(1, math.ceil(needed / per_replica)) if per_replica > 0 else 1
    return SelfHostQuote(
        model=model,
        gpu=gpu,
        precision=precision,
        gpu_hourly_usd=gpu_hourly_usd,
        price_as_of=price_as_of,
        gpus_per_replica=gpus_per_replica,
        replicas=replicas,
        stream_tokens_per_s=stream_tokens_per_s,
        needed_tokens_per_s=round(needed, 1),
        monthly_usd=round(selfhost_monthly(gpu_hourly_usd, gpus_per_replica * replicas), 2),
    )


def break_even_tokens_per_day(selfhost_usd: float, quote: ApiQuote, traffic: Traffic) -> float:
    """Daily tokens (same in/out mix) at which the API bill equals ``selfhost_usd``."""
    if quote.monthly_usd <= 0 or traffic.tokens_per_day <= 0:
        return math.inf
    usd_per_token = quote.monthly_usd / (traffic.tokens_per_day * DAYS_PER_MONTH)
    return selfhost_usd / (usd_per_token * DAYS_PER_MONTH)
