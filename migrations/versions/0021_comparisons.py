"""comparisons: a preset tried on several variants over a few reference models, judged blind

Four tables (comparisons, their variants, their cells, the blind votes), a job's comparison (a comparison's job
writes cells, never gallery rows or model usage) and a spend entry's comparison (its spend counted apart from
galleries). Downgrade drops them; the ledger's comparison entries stay as the preset's spend.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 00:00:00

"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def json_type():
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade():
    op.create_table(
        "comparisons",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("preset_id", sa.String(length=32), sa.ForeignKey("presets.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column("canceled_at", sa.DateTime(), nullable=True),
        sa.Column("canceled_by", sa.String(length=200), nullable=True),
        sa.Column("adopted_variant_id", sa.String(length=32), nullable=True),
        sa.Column("adopted_at", sa.DateTime(), nullable=True),
        sa.Column("adopted_by", sa.String(length=200), nullable=True),
    )
    op.create_index("ix_comparisons_preset_id", "comparisons", ["preset_id"])
    op.create_table(
        "comparison_variants",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column(
            "comparison_id", sa.String(length=32), sa.ForeignKey("comparisons.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("settings", json_type(), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.Column("job_id", sa.String(length=32), nullable=True),
    )
    op.create_index("ix_comparison_variants_comparison_id", "comparison_variants", ["comparison_id"])
    op.create_table(
        "comparison_cells",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column(
            "comparison_id", sa.String(length=32), sa.ForeignKey("comparisons.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "variant_id",
            sa.String(length=32),
            sa.ForeignKey("comparison_variants.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "item_id", sa.Integer(), sa.ForeignKey("job_items.id", ondelete="SET NULL"), nullable=True, unique=True
        ),
        sa.Column("model_id", sa.String(length=64), nullable=False),
        sa.Column("gender", sa.String(length=8), nullable=False),
        sa.Column("reference_url", sa.Text(), nullable=False),
        sa.Column("image_path", sa.String(length=500), nullable=True),
        sa.Column("prediction_id", sa.String(length=64), nullable=True),
        sa.Column("prediction_seconds", sa.Float(), nullable=True),
        sa.Column("model_version", sa.String(length=200), nullable=True),
        sa.Column("sent_settings", json_type(), nullable=True),
        sa.Column("offline", sa.Boolean(), nullable=False),
        sa.Column("thumb_path", sa.String(length=500), nullable=True),
        sa.Column("thumb_width", sa.Integer(), nullable=True),
        sa.Column("thumb_height", sa.Integer(), nullable=True),
        sa.Column("medium_path", sa.String(length=500), nullable=True),
        sa.Column("medium_width", sa.Integer(), nullable=True),
        sa.Column("medium_height", sa.Integer(), nullable=True),
        sa.UniqueConstraint("variant_id", "model_id", name="uq_comparison_cells_variant_model"),
    )
    op.create_index("ix_comparison_cells_comparison_id", "comparison_cells", ["comparison_id"])
    op.create_table(
        "comparison_votes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "comparison_id", sa.String(length=32), sa.ForeignKey("comparisons.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "left_cell_id",
            sa.String(length=32),
            sa.ForeignKey("comparison_cells.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "right_cell_id",
            sa.String(length=32),
            sa.ForeignKey("comparison_cells.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("voter", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_comparison_votes_comparison_id", "comparison_votes", ["comparison_id"])
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.add_column(sa.Column("comparison_id", sa.String(length=32), nullable=True))
        batch_op.create_foreign_key(
            "fk_jobs_comparison_id", "comparisons", ["comparison_id"], ["id"], ondelete="CASCADE"
        )
        batch_op.create_index("ix_jobs_comparison_id", ["comparison_id"])
    with op.batch_alter_table("spend_entries") as batch_op:
        batch_op.add_column(sa.Column("comparison_id", sa.String(length=32), nullable=True))
        batch_op.create_index("ix_spend_entries_comparison_id", ["comparison_id"])


def downgrade():
    with op.batch_alter_table("spend_entries") as batch_op:
        batch_op.drop_index("ix_spend_entries_comparison_id")
        batch_op.drop_column("comparison_id")
    op.execute("DELETE FROM jobs WHERE comparison_id IS NOT NULL")
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.drop_index("ix_jobs_comparison_id")
        batch_op.drop_constraint("fk_jobs_comparison_id", type_="foreignkey")
        batch_op.drop_column("comparison_id")
    op.drop_table("comparison_votes")
    op.drop_table("comparison_cells")
    op.drop_table("comparison_variants")
    op.drop_table("comparisons")
