"""approved answers match by their words

Revision ID: 87641702b527
Revises: a42828f2b196
Create Date: 2026-12-07 00:44:05.348279

Approved answers are matched by the words of their phrasings, not by embeddings
(see services/insights/similarity.py): the phrasings' vectors are no longer kept.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '87641702b527'
down_revision: str | None = 'a42828f2b196'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('approved_answer', schema=None) as batch_op:
        batch_op.drop_column('vectors')



def downgrade() -> None:
    with op.batch_alter_table('approved_answer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('vectors', sa.LargeBinary(), nullable=True))

