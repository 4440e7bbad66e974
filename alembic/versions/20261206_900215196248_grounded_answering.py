"""grounded answering

Revision ID: 900215196248
Revises: 3f9c2a7d1e54
Create Date: 2026-12-06 12:32:13.878762

Agents choose how they answer (existing ones keep answering generatively);
replies keep why they ended and whether their numbers are in their passages.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '900215196248'
down_revision: str | None = '3f9c2a7d1e54'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('agent', schema=None) as batch_op:
        batch_op.add_column(sa.Column('answer_mode', sa.Enum('EXTRACTIVE', 'GENERATIVE', name='answermode', native_enum=False, length=32), server_default='GENERATIVE', nullable=False))
        batch_op.add_column(sa.Column('general_chat', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('max_tokens', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('unsupported_numbers', sa.Enum('FLAG', 'REFUSE', name='unsupportednumbers', native_enum=False, length=32), server_default='FLAG', nullable=False))

    with op.batch_alter_table('chat_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('finish_reason', sa.Enum('STOP', 'LENGTH', 'LOOP', 'NO_ANSWER', name='finishreason', native_enum=False, length=32), nullable=True))
        batch_op.add_column(sa.Column('grounding', sa.Enum('SUPPORTED', 'UNSUPPORTED', name='grounding', native_enum=False, length=32), nullable=True))
        batch_op.add_column(sa.Column('unsupported_spans', sa.JSON(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('chat_message', schema=None) as batch_op:
        batch_op.drop_column('unsupported_spans')
        batch_op.drop_column('grounding')
        batch_op.drop_column('finish_reason')

    with op.batch_alter_table('agent', schema=None) as batch_op:
        batch_op.drop_column('unsupported_numbers')
        batch_op.drop_column('max_tokens')
        batch_op.drop_column('general_chat')
        batch_op.drop_column('answer_mode')

