"""`flask --app wsgi providers add|list|show|retire`: image models added, listed and retired as rows, without a
code change or a restart (the web side and the workers read the rows per request and per job)."""

from __future__ import annotations

import json

import click
import httpx
import replicate
from flask.cli import with_appcontext
from replicate.exceptions import ReplicateError
from sqlalchemy import select

from app import provider_rows
from app.cli.common import printable, services
from app.core.database import db
from app.models import Preset
from app.providers.catalog import Provider
from app.providers.pricing import describe
from app.providers.proposal import Proposal, ProposalError, fetch_snapshot, parse_model, propose


def replicate_client() -> replicate.Client:
    settings = services().settings
    if not settings.replicate_api_token:
        raise click.ClickException("REPLICATE_API_TOKEN is not set: adding a provider reads its schema from Replicate.")
    return replicate.Client(api_token=settings.replicate_api_token, base_url=settings.replicate_base_url)


@click.command("add")
@with_appcontext
@click.argument("model")
@click.option("--key", help="The provider's key (default: the model's name in upper snake case).")
@click.option("--reference-field", help="The input that carries the reference photo (default: proposed).")
@click.option("--price", "price_json", help='The price rule as JSON, e.g. \'{"kind": "per_image", "usd": "0.03"}\'.')
@click.option("--yes", is_flag=True, help="Save the proposal without asking (for scripts).")
def providers_add(model: str, key: str | None, reference_field: str | None, price_json: str | None, yes: bool) -> None:
    """Fetch OWNER/NAME (or OWNER/NAME:VERSION) from Replicate, show the proposed provider, save it when confirmed."""
    try:
        name, version = parse_model(model)
        price = json.loads(price_json) if price_json else None
    except (ProposalError, json.JSONDecodeError) as exc:
        raise click.UsageError(str(exc)) from None
    wanted = key or None
    if wanted and provider_rows.find(wanted):
        raise click.ClickException(f"A provider {wanted!r} exists already; choose another --key.")
    try:
        snapshot = fetch_snapshot(replicate_client(), name, version, wanted or "")
        proposal = propose(snapshot, wanted, reference_field, price)
    except (ReplicateError, httpx.HTTPError) as exc:
        raise click.ClickException(f"could not read {name} from Replicate: {exc}") from None
    except (ProposalError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    if provider_rows.find(proposal.provider.name):
        raise click.ClickException(f"A provider {proposal.provider.name!r} exists already; choose another --key.")
    echo_proposal(proposal)
    if not yes and not click.confirm("Save this provider?", default=False):
        raise click.ClickException("Nothing saved.")
    db.session.add(provider_rows.row_of(proposal.provider, proposal.snapshot))
    db.session.commit()
    click.echo(f"Saved {proposal.provider.name}: presets can use it now.")


def echo_proposal(proposal: Proposal) -> None:
    p = proposal.provider
    click.echo(f"Provider {p.name}: {p.display_name} ({p.model}{':' + p.version if p.version else ''})")
    click.echo(f"  schema: version {proposal.snapshot.version or '?'}, read from {proposal.snapshot.source}")
    shape = "a list of images" if p.image_as_list else "one image"
    others = [c for c in proposal.candidates if c != p.image_field]
    also = f" (other image inputs: {', '.join(others)})" if others else ""
    click.echo(f"  reference photo: {p.image_field}, {shape}{also}")
    click.echo(f"  settings a preset may set: {', '.join(p.settings) or 'none'}")
    click.echo(f"  defaults: {json.dumps(p.defaults)}")
    click.echo(f"  price: {describe(p.price) if p.price else 'none given: its spend counts $0 (give --price)'}")
    click.echo(f"  a prediction's input for a sample preset: {json.dumps(proposal.sample_input())}")


@click.command("list")
@with_appcontext
def providers_list() -> None:
    """Every provider, active and retired, with its model and price."""
    for p in provider_rows.all_providers().values():
        price = describe(p.price) if p.price else "PRICE_* settings"
        click.echo(f"{p.name:<20} {p.state:<8} {p.model:<42} {price}")


@click.command("show")
@with_appcontext
@click.argument("key")
def providers_show(key: str) -> None:
    """One provider: its model, reference field, defaults, settings and price rule."""
    p = lookup(key)
    click.echo(f"{p.name}: {p.display_name} ({p.state})\n  {p.description}")
    click.echo(f"  model: {p.model}{':' + p.version if p.version else ''}")
    click.echo(f"  reference photo: {p.image_field} ({'list' if p.image_as_list else 'single'})")
    click.echo(f"  defaults: {json.dumps(p.defaults)}; fixed by the app: {', '.join(sorted(p.managed)) or 'none'}")
    click.echo(f"  settings: {', '.join(p.settings) or 'none'}")
    click.echo(f"  price: {describe(p.price) if p.price else 'the PRICE_* settings'}")
    click.echo(f"  presets: {len(presets_on(p.name))}")


@click.command("retire")
@with_appcontext
@click.argument("key")
def providers_retire(key: str) -> None:
    """Offer a provider no more: presets on it keep their history and are asked to switch."""
    lookup(key)
    provider_rows.set_state(key, provider_rows.RETIRED)
    db.session.commit()
    using = presets_on(key)
    click.echo(f"{key} is retired.")
    choices = ", ".join(provider_rows.active_providers())
    for name in using:
        click.echo(f'Preset "{printable(name)}" uses it: switch it to one of {choices}')


def lookup(key: str) -> Provider:
    found = provider_rows.find(key)
    if found is None:
        raise click.ClickException(f"No provider {key!r}. See `flask --app wsgi providers list`.")
    return found


def presets_on(key: str) -> list[str]:
    return list(db.session.scalars(select(Preset.name).where(Preset.provider == key).order_by(Preset.name)))
