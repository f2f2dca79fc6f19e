"""The demo's shared catalogue: ad campaigns and what they cost on a given day.

The ads API server, the demo CRM and the demo sales files all draw from here, so campaigns,
channels and customers line up and the marketing KPIs downstream mean something. Everything is
a pure function of the seed (and the date), so runs are reproducible.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

PAID_CHANNELS = {"Google": "GGL", "Facebook": "FB", "Instagram": "IG"}
UNPAID_CHANNELS = ("Organic", "Referral")
# Instagram records come without a channel field: the extractor maps them by prefix.
CHANNEL_MAP = {"IG-": "Instagram"}


@dataclass(frozen=True)
class Campaign:
    """One ad campaign of the demo."""

    campaign_id: str
    campaign_name: str
    channel: str
    daily_impressions: int
    ctr: float
    cpc: float
    cvr: float


def campaigns(seed: int, count: int = 120) -> list[Campaign]:
    """``count`` campaigns spread over the paid channels, deterministic in ``seed``."""
    rng = random.Random(f"campaigns:{seed}")
    names = list(PAID_CHANNELS)
    out = []
    for i in range(count):
        channel = names[i % len(names)]
        out.append(
            Campaign(
                campaign_id=f"{PAID_CHANNELS[channel]}-{i + 1:04d}",
                campaign_name=f"{channel} campaign {i + 1}",
                channel=channel,
                daily_impressions=rng.randint(2_000, 40_000),
                ctr=rng.uniform(0.01, 0.05),
                cpc={"Google": 80.0, "Facebook": 55.0, "Instagram": 45.0}[channel]
                * rng.uniform(0.7, 1.3),
                cvr=rng.uniform(0.01, 0.06),
            )
        )
    return out


def report_row(seed: int, day: date, campaign: Campaign) -> dict[str, object]:
    """The API record of ``campaign`` on ``day`` (cost in yen, two decimals)."""
    rng = random.Random(f"ads:{seed}:{day.isoformat()}:{campaign.campaign_id}")
    impressions = int(campaign.daily_impressions * rng.uniform(0.6, 1.4))
    clicks = int(impressions * campaign.ctr * rng.uniform(0.8, 1.2))
    conversions = int(clicks * campaign.cvr * rng.uniform(0.5, 1.5))
    cost = Decimal(str(round(clicks * campaign.cpc * rng.uniform(0.9, 1.1), 2)))
    row: dict[str, object] = {
        "campaign_id": campaign.campaign_id,
        "campaign_name": campaign.campaign_name,
        "date": day.isoformat(),
        "impressions": impressions,
        "clicks": clicks,
        "cost": float(cost),
        "conversions": conversions,
    }
    if campaign.channel != "Instagram":
        row["channel"] = campaign.channel
    return row
