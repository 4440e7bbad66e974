"""insights and approved answers

Revision ID: 949c560f93f1
Revises: 47a492e6f6be
Create Date: 2026-12-06 23:46:41.937372

Approved answers (an administrator's answer to a question, its phrasings' vectors and
its audience), and the relevance of a reply's best passage, which insights read. The
column is added in place on SQLite: no table is copied.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '949c560f93f1'
down_revision: str | None = '47a492e6f6be'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('approved_answer',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('agent_id', sa.Uuid(), nullable=True),
    sa.Column('questions', sa.JSON(), nullable=False),
    sa.Column('answer', sa.UnicodeText().with_variant(sa.NVARCHAR(), 'mssql'), nullable=False),
    sa.Column('language', sa.Unicode(length=35), nullable=False),
    sa.Column('author_id', sa.Uuid(), nullable=False),
    sa.Column('author_role', sa.Enum('ADMIN', 'MEMBER', name='role', native_enum=False, length=32), nullable=False),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('hit_count', sa.Integer(), nullable=False),
    sa.Column('last_hit_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('vectors', sa.LargeBinary(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['agent_id'], ['agent.id'], name=op.f('FK__approved_answer__agent')),
    sa.ForeignKeyConstraint(['author_id'], ['user.id'], name=op.f('FK__approved_answer__user')),
    sa.PrimaryKeyConstraint('id', name=op.f('PK__approved_answer'))
    )
    with op.batch_alter_table('approved_answer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('IX__approved_answer__agent_id'), ['agent_id'], unique=False)
        batch_op.create_index(batch_op.f('IX__approved_answer__author_id'), ['author_id'], unique=False)

    op.create_table('approved_answer_audience',
    sa.Column('approved_answer_id', sa.Uuid(), nullable=False),
    sa.Column('attribute', sa.Enum('country', 'office', 'department', 'employment_type', 'group', name='audienceattribute', native_enum=False, length=32), nullable=False),
    sa.Column('value', sa.Unicode(length=100), nullable=False),
    sa.ForeignKeyConstraint(['approved_answer_id'], ['approved_answer.id'], name=op.f('FK__approved_answer_audience__approved_answer'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('approved_answer_id', 'attribute', 'value', name=op.f('PK__approved_answer_audience'))
    )
    with op.batch_alter_table('chat_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('best_score', sa.Float(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('chat_message', schema=None) as batch_op:
        batch_op.drop_column('best_score')

    op.drop_table('approved_answer_audience')
    with op.batch_alter_table('approved_answer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('IX__approved_answer__author_id'))
        batch_op.drop_index(batch_op.f('IX__approved_answer__agent_id'))

    op.drop_table('approved_answer')
