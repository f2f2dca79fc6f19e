"""The ``[revenue]`` settings of the transform."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class RevenueSettings(BaseModel):
    """How billing links to deals, and how the incremental transform batches its work."""

    model_config = ConfigDict(extra="forbid")

    # Invoice (or subscription) metadata key naming the Salesforce opportunity it bills.
    opportunity_key: str = "opportunity_id"
    # Stripe customer metadata key naming the Salesforce account of the customer.
    account_key: str = "sf_account_id"
    # Amounts of the seed's flat ``stripe.invoice.*`` payloads are in major units (as in its
    # example, where amount_due equals the opportunity amount); set true for minor units.
    flat_amounts_minor_units: bool = False
    # Raw rows read per staging batch.
    batch_size: int = Field(default=20_000, ge=100)


def revenue_settings(settings: Any | None) -> RevenueSettings:
    """The validated ``[revenue]`` section (defaults when ``settings`` is None)."""
    if settings is None:
        return RevenueSettings()
    return settings.model("revenue", RevenueSettings)
