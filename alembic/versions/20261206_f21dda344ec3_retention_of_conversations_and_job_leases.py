"""retention of conversations and job leases

Revision ID: f21dda344ec3
Revises: 949c560f93f1
Create Date: 2026-12-06 23:47:22.102709

Agents may say how long their conversations are kept (``agent.retention_days``;
NULL, what every existing agent gets, keeps them until their owners delete them).
``job_lease`` holds one row per periodic job that one process at a time may run, such
as the retention sweep; rows are made by the first process that asks. SQLite adds the
column in place: no table is copied.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'f21dda344ec3'
down_revision: str | None = '949c560f93f1'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('job_lease',
    sa.Column('name', sa.Unicode(length=100), nullable=False),
    sa.Column('holder', sa.Unicode(length=200), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('PK__job_lease'))
    )
    with op.batch_alter_table('agent', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retention_days', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('agent', schema=None) as batch_op:
        batch_op.drop_column('retention_days')

    op.drop_table('job_lease')
