"""Response shapes of the dashboard API (they make ``/openapi.json`` describe every panel).

Amounts are in major currency units, as in the marts; ratios keep the marts' scale (ROAS, CVR
and CTR in percent, NRR and GRR as fractions where 1.0 = 100 %). Times are ISO 8601 in UTC,
dates are business-day dates.
"""

from __future__ import annotations

from pydantic import BaseModel

Num = float | None
Text = str | None


class StatusCount(BaseModel):
    status: Text
    currency: Text
    opportunities: int
    amount: Num
    invoiced_amount: Num
    paid_amount: Num


class LatencyBand(BaseModel):
    band: str
    low: Num
    high: Num
    opportunities: int


class Latency(BaseModel):
    paid: int
    avg_days: Num
    median_days: Num
    p90_days: Num
    within_15_days: int
    bands: list[LatencyBand]


class OpenOpportunity(BaseModel):
    opportunity_id: str
    opportunity_name: Text
    account_id: Text
    currency: Text
    status: Text
    amount: Num
    invoiced_amount: Num
    paid_amount: Num
    won_at: Text
    age_days: Num


class WonToPaid(BaseModel):
    by_status: list[StatusCount]
    latency: Latency
    open: list[OpenOpportunity]
    open_count: int


class Bucket(BaseModel):
    currency: Text
    bucket: Text
    invoices: int
    amount_remaining: Num


class OverdueInvoice(BaseModel):
    invoice_id: str
    customer_id: Text
    currency: Text
    amount_remaining: Num
    due_date: Text
    days_past_due: int | None
    bucket: Text
    collection_status: Text


class Collections(BaseModel):
    as_of: Text
    buckets: list[Bucket]
    overdue: list[OverdueInvoice]
    overdue_count: int


class NrrMonth(BaseModel):
    month: str
    currency: str
    start_mrr: Num
    new: Num
    expansion: Num
    contraction: Num
    churn: Num
    reactivation: Num
    end_mrr: Num
    nrr: Num
    grr: Num


class Nrr(BaseModel):
    months: list[NrrMonth]


class ChannelRow(BaseModel):
    date: str
    period_start: str
    period_end: str
    channel: str
    impressions: int | None
    clicks: int | None
    ad_cost: Num
    conversions: int | None
    new_customers: int | None
    total_ltv: Num
    period_revenue: Num
    cac: Num
    avg_ltv: Num
    roas: Num
    cvr: Num
    ctr: Num
    ltv_cac_ratio: Num


class DailySummary(BaseModel):
    date: str
    period_start: str
    period_end: str
    total_ad_cost: Num
    total_revenue: Num
    total_customers: int | None
    overall_cac: Num
    overall_roas: Num
    avg_cvr: Num
    best_channel: Text
    best_channel_roas: Num


class ChannelChoice(BaseModel):
    date: str
    window_days: int


class Channels(BaseModel):
    date: Text
    window_days: int | None
    choices: list[ChannelChoice]
    channels: list[ChannelRow]
    summary: DailySummary | None


class DqResult(BaseModel):
    run_id: str
    suite: str
    expectation: str
    column: Text
    severity: str
    success: bool
    observed_value: Text
    unexpected_count: int | None
    unexpected_percent: Num
    unexpected_sample: Text
    checked_at: str


class Quality(BaseModel):
    latest: list[DqResult]
    failures: list[DqResult]


class PipelineRun(BaseModel):
    run_id: str
    pipeline: str
    run_date: Text
    status: str
    started_at: str
    ended_at: Text
    error: Text
    attempts: int
    failed_attempts: int


class TaskRun(BaseModel):
    run_id: str
    task_id: str
    attempt: int
    status: str
    started_at: str
    ended_at: Text
    error: Text
    duration_seconds: Num


class Pipeline(BaseModel):
    runs: list[PipelineRun]
    run_id: Text
    tasks: list[TaskRun]


class Freshness(BaseModel):
    source: str
    type: str
    events: int
    avg_lag_seconds: Num
    p95_lag_seconds: Num
    max_lag_seconds: Num
    last_inserted_at: Text


class Duplicates(BaseModel):
    deliveries: int
    new: int
    duplicates: int
    duplicate_rate: Num


class DeadLetterCount(BaseModel):
    source: str
    reason: str
    total: int
    pending: int
    last_received_at: Text


class DeadLetter(BaseModel):
    id: int
    received_at: str
    source: str
    reason: str
    detail: Text
    replayed_at: Text


class Receiver(BaseModel):
    accepted: int
    duplicates: int
    bus_depth: int
    receipt_to_mart_events: int
    receipt_to_mart_avg_seconds: Num


class Ingestion(BaseModel):
    freshness: list[Freshness]
    receiver: Receiver | None
    duplicates: Duplicates
    dead_letter_counts: list[DeadLetterCount]
    dead_letters: list[DeadLetter]


class Meta(BaseModel):
    title: str
    locale: str
    marketing_currency: str
    timezone: str
    currencies: list[str]
    live: str
    auth: str
