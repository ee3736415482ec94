"""Field reporting from an offline queue: when the worker observed an incident (observed_at, from
the phone; the report may arrive hours later), and a client UUID per photo so a resent upload is
stored once.

Revision ID: 0007_observed_photo_uuid
Revises: 0006_incident_seq
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa

revision = "0007_observed_photo_uuid"
down_revision = "0006_incident_seq"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable, no backfill: older incidents read their creation time as the observed time.
    op.add_column("incidents", sa.Column("observed_at", sa.DateTime(timezone=True)))
    op.add_column("incident_photos", sa.Column("client_uuid", sa.Uuid))
    op.create_unique_constraint("uq_incident_photos_client_uuid", "incident_photos", ["client_uuid"])


def downgrade() -> None:
    op.drop_constraint("uq_incident_photos_client_uuid", "incident_photos", type_="unique")
    op.drop_column("incident_photos", "client_uuid")
    op.drop_column("incidents", "observed_at")
