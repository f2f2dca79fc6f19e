"""``revops dev …``: local stand-ins for external sources."""

from __future__ import annotations

import typer

from revops.cli.render import echo

dev_app = typer.Typer(
    help="Local development servers (stand-ins for external sources).", no_args_is_help=True
)


@dev_app.command("ads-api")
def ads_api(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8765, "--port", help="Port (0 picks a free one)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the generated campaigns."),
    campaigns: int = typer.Option(120, "--campaigns", help="Campaigns per day."),
    rate_429: float = typer.Option(0.0, "--rate-429", help="Share of requests answered 429."),
    rate_5xx: float = typer.Option(0.0, "--rate-5xx", help="Share of requests answered 503."),
    token_ttl: int = typer.Option(3600, "--token-ttl", help="Lifetime of issued tokens (s)."),
) -> None:
    """Serve the local ads reporting API until interrupted (Ctrl-C)."""
    from revops.dev.ads_api import (
        DEMO_CLIENT_ID,
        DEMO_CLIENT_SECRET,
        DEMO_TOKEN,
        AdsApiServer,
        AdsApiState,
    )

    state = AdsApiState(
        seed=seed,
        campaign_count=campaigns,
        rate_429=rate_429,
        rate_5xx=rate_5xx,
        token_ttl_s=token_ttl,
    )
    state.rng.seed(seed)
    server = AdsApiServer(host, port, state)
    echo(
        f"ads API on {server.base_url}\n"
        f'  [ads] base_url = "{server.base_url}"\n'
        f'  [ads] token_url = "{server.token_url}"\n'
        f'  [ads] client_id = "{DEMO_CLIENT_ID}"\n'
        f"  export REVOPS_ADS__CLIENT_SECRET={DEMO_CLIENT_SECRET}"
        f"   (or REVOPS_ADS__TOKEN={DEMO_TOKEN})\n"
        "  faults: POST /_dev/faults, stats: GET /_dev/stats\n"
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def register(app: typer.Typer) -> None:
    """Add ``revops dev``."""
    app.add_typer(dev_app, name="dev")
