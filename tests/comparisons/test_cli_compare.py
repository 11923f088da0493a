"""`flask --app wsgi compare`: the variant specs, the request it makes, what it prints, --wait's totals and exit
codes, and errors as a message and an exit code (never a traceback)."""

from __future__ import annotations

import threading
import time

import click
import pytest
from sqlalchemy import select

from app.cli.compare import parse_variant_spec
from app.core.database import db
from app.models import Comparison, ComparisonVariant, SpendEntry
from tests.conftest import auth_headers, create_preset


@pytest.mark.fast
def test_a_variant_spec_reads_current_a_provider_its_typed_settings_and_a_quoted_prompt(make_app_free):
    with make_app_free.app_context():
        assert parse_variant_spec("current") == {"current": True}
        assert parse_variant_spec("FLUX_KONTEXT") == {"provider": "FLUX_KONTEXT", "settings": {}}
        spec = 'STABLE_DIFFUSION:num_inference_steps=20,guidance_scale=7.5,prompt="Soft light, plain backdrop"'
        assert parse_variant_spec(spec) == {
            "provider": "STABLE_DIFFUSION",
            "settings": {"num_inference_steps": 20, "guidance_scale": 7.5},
            "prompt": "Soft light, plain backdrop",
        }
        kontext = parse_variant_spec("FLUX_KONTEXT:output_format=png,safety_tolerance=1")
        assert kontext["settings"] == {"output_format": "png", "safety_tolerance": 1}
        for bad in ("NANO_BANANA:aspect_ratio", 'NANO_BANANA:prompt="open', ":x=1", "A:x=1,x=2"):
            with pytest.raises(click.BadParameter):
                parse_variant_spec(bad)


@pytest.fixture
def make_app_free(tmp_path):
    """An app on SQLite with the embedded store: no PostgreSQL, Redis or server (the spec parser needs the rows)."""
    from app import create_app
    from app.core.config import load_settings
    from tests.conftest import base_env, upgrade

    env = base_env(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'free.sqlite3'}", REDIS_URL=None)
    upgrade(env["DATABASE_URL"], tmp_path)
    return create_app(load_settings(env), {"TESTING": True}, enqueue=lambda job_id: None)


def test_compare_wait_runs_three_variants_and_prints_each_columns_totals(make_app, immediate_huey, replicate_server):
    app = make_app(replicate=replicate_server)
    client = app.test_client()
    create_preset(client, name="Film Noir", prompt="Film noir portrait")
    result = app.test_cli_runner().invoke(
        args=[
            "compare",
            "Film Noir",
            "--variant",
            "current",
            "--variant",
            "FLUX_KONTEXT:output_format=png,safety_tolerance=1",
            "--variant",
            'NANO_BANANA:aspect_ratio=1:1,prompt="Soft window light, plain backdrop"',
            "--models",
            "male_01,female_01",
            "--wait",
        ]
    )
    assert result.exit_code == 0, result.output
    out = result.output
    with app.app_context():
        comparison = db.session.scalars(select(Comparison)).one()
        variants = list(db.session.scalars(select(ComparisonVariant).order_by(ComparisonVariant.position)))
        entries = list(db.session.scalars(select(SpendEntry).where(SpendEntry.comparison_id == comparison.id)))
        assert comparison.created_by and comparison.created_by.startswith("cli")
    assert [v.provider for v in variants] == ["NANO_BANANA", "FLUX_KONTEXT", "NANO_BANANA"]
    assert variants[1].settings == {"output_format": "png", "safety_tolerance": 1}
    assert variants[2].settings == {"aspect_ratio": "1:1"} and variants[2].prompt == "Soft window light, plain backdrop"
    assert len(replicate_server.creates) == 6 and len(entries) == 6
    assert f"Comparison {comparison.id} queued" in out and f"/admin/comparisons/{comparison.id}" in out
    assert "A: NANO_BANANA (the preset as it is)" in out and "prompt 'Soft window light, plain backdrop'" in out
    assert "Models: female_01, male_01" in out or "Models: male_01, female_01" in out
    assert f"Comparison {comparison.id} finished:" in out
    for label in ("A NANO_BANANA", "B FLUX_KONTEXT", "C NANO_BANANA"):
        line = next(line for line in out.splitlines() if line.strip().startswith(label))
        assert "2/2 succeeded (100.0 %)" in line and "per image" in line and "for a 20-model job" in line
        assert "median" in line and "p95" in line
    assert "Cost: $" in out


def test_compare_without_wait_queues_and_returns(make_app, replicate_server):
    app = make_app(replicate=replicate_server)
    app.extensions["pixelglow"].enqueue_job = lambda job_id: None  # nobody runs it
    create_preset(app.test_client(), name="Pastel")
    result = app.test_cli_runner().invoke(
        args=["compare", "Pastel", "--variant", "current", "--variant", "FLUX_PRO", "--male", "1", "--female", "0"]
    )
    assert result.exit_code == 0, result.output
    assert "2 variants x 1 models" in result.output and "Models: male_" in result.output
    assert replicate_server.creates == []


def test_compare_wait_exits_non_zero_when_every_cell_failed(make_app, immediate_huey, replicate_server):
    replicate_server.fail_rate = 1.0
    app = make_app(replicate=replicate_server)
    create_preset(app.test_client(), name="Doomed")
    result = app.test_cli_runner().invoke(
        args=["compare", "Doomed", "--variant", "current", "--variant", "FLUX_PRO", "--models", "male_01", "--wait"]
    )
    assert result.exit_code == 1, result.output
    assert "0/1 succeeded (0.0 %)" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["compare", "No Such", "--variant", "current", "--variant", "FLUX_PRO"], 1, "No preset with id or name"),
        (["compare", "Errors", "--variant", "current"], 2, "Give 2 to 4 --variant options"),
        (["compare", "Errors", "--variant", "current", "--variant", "FLUX_PRO:steps"], 2, "is not key=value"),
        (["compare", "Errors", "--variant", "current", "--variant", "NOPE_MODEL"], 1, "Variant B: provider must be"),
        (["compare", "Errors", "--variant", "current", "--variant", "current"], 1, "are the same"),
        (
            ["compare", "Errors", "--variant", "current", "--variant", "FLUX_PRO", "--models", "m", "--male", "1"],
            2,
            "not both",
        ),
        (
            ["compare", "Errors", "--variant", "current", "--variant", "FLUX_PRO", "--models", "nobody_99"],
            1,
            "not a reference model",
        ),
        (["compare", "Errors", "--variant", "current", "--variant", "FLUX_PRO:output_format=tiff"], 1, "Variant B"),
    ],
)
def test_compare_errors_are_a_message_and_an_exit_code(make_app, args, code, message):
    app = make_app()
    create_preset(app.test_client(), name="Errors")
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == code, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    with app.app_context():
        assert db.session.scalar(select(Comparison.id)) is None


def test_compare_over_the_monthly_budget_says_what_is_left(make_app, replicate_server):
    app = make_app(replicate=replicate_server, SPEND_LIMIT_PER_MONTH_USD="0.05")
    create_preset(app.test_client(), name="Budget")
    result = app.test_cli_runner().invoke(args=["compare", "Budget", "--variant", "current", "--variant", "FLUX_PRO"])
    assert result.exit_code == 1
    assert "this comparison would cost up to" in result.output and "$0.05 is left" in result.output


def test_compare_wait_exits_non_zero_when_the_comparison_is_canceled(make_app, replicate_server):
    """Nobody runs its jobs; another admin cancels it while the command waits: exit 1, the totals printed."""
    app = make_app(replicate=replicate_server)
    app.extensions["pixelglow"].enqueue_job = lambda job_id: None
    create_preset(app.test_client(), name="Called off")

    def cancel_when_started():
        client = app.test_client()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with app.app_context():
                found = db.session.scalar(select(Comparison.id))
                db.session.remove()
            if found:
                client.post(f"/api/admin/comparisons/{found}/cancel", headers=auth_headers())
                return
            time.sleep(0.05)

    canceller = threading.Thread(target=cancel_when_started)
    canceller.start()
    result = app.test_cli_runner().invoke(
        args=["compare", "Called off", "--variant", "current", "--variant", "FLUX_PRO", "--models", "male_01", "--wait"]
    )
    canceller.join(30)
    assert result.exit_code == 1, result.output
    assert "canceled:" in result.output and "B FLUX_PRO: 0/0 succeeded (—), 1 canceled" in result.output


def test_compare_wait_says_when_no_consumer_took_it_and_gives_up_after_the_timeout(make_app, replicate_server):
    app = make_app(replicate=replicate_server)
    app.extensions["pixelglow"].enqueue_job = lambda job_id: None
    create_preset(app.test_client(), name="Waiting")
    args = ["compare", "Waiting", "--variant", "current", "--variant", "FLUX_PRO", "--models", "female_01"]
    result = app.test_cli_runner().invoke(args=[*args, "--wait", "--timeout", "1", "--notice-after", "0"])
    assert result.exit_code == 1, result.output
    assert "No consumer has picked up job" in result.output
    assert "did not end within 1 s; it goes on in the background" in result.output
