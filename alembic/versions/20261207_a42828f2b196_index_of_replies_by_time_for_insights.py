"""index of replies by time for insights

Revision ID: a42828f2b196
Revises: f21dda344ec3
Create Date: 2026-12-07 00:15:16.450414

Insights read the newest replies with a signal, newest first: an index on when a
message was written lets them stop after the newest ones instead of sorting them all.
"""

from collections.abc import Sequence

from alembic import op


revision: str = 'a42828f2b196'
down_revision: str | None = 'f21dda344ec3'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('chat_message', schema=None) as batch_op:
        batch_op.create_index('IX__chat_message__created_at', ['created_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('chat_message', schema=None) as batch_op:
        batch_op.drop_index('IX__chat_message__created_at')

