"""audiences and user attributes

Revision ID: ab5bab4a5583
Revises: 71dc5ca2a616
Create Date: 2026-12-06 18:20:29.136507

Users carry the attributes HR policies depend on (country, office, department,
employment type, preferred language, groups), and collections and documents may say
whom they are for: one row per attribute value they admit. New tables, and columns
added to ``user`` (SQLite adds them in place: no table is copied, and the keyword
index's triggers on ``document`` and ``document_chunk`` are untouched).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'ab5bab4a5583'
down_revision: str | None = '71dc5ca2a616'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('collection_audience',
    sa.Column('collection_id', sa.Uuid(), nullable=False),
    sa.Column('attribute', sa.Enum('country', 'office', 'department', 'employment_type', 'group', name='audienceattribute', native_enum=False, length=32), nullable=False),
    sa.Column('value', sa.Unicode(length=100), nullable=False),
    sa.ForeignKeyConstraint(['collection_id'], ['collection.id'], name=op.f('FK__collection_audience__collection'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('collection_id', 'attribute', 'value', name=op.f('PK__collection_audience'))
    )
    op.create_table('document_audience',
    sa.Column('document_id', sa.Uuid(), nullable=False),
    sa.Column('attribute', sa.Enum('country', 'office', 'department', 'employment_type', 'group', name='audienceattribute', native_enum=False, length=32), nullable=False),
    sa.Column('value', sa.Unicode(length=100), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['document.id'], name=op.f('FK__document_audience__document'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('document_id', 'attribute', 'value', name=op.f('PK__document_audience'))
    )
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('country', sa.Unicode(length=2), nullable=True))
        batch_op.add_column(sa.Column('office', sa.Unicode(length=100), nullable=True))
        batch_op.add_column(sa.Column('department', sa.Unicode(length=100), nullable=True))
        batch_op.add_column(sa.Column('employment_type', sa.Enum('FULL_TIME', 'PART_TIME', 'CONTRACTOR', 'INTERN', name='employmenttype', native_enum=False, length=32), nullable=True))
        batch_op.add_column(sa.Column('preferred_language', sa.Unicode(length=35), nullable=True))
        batch_op.add_column(sa.Column('groups', sa.JSON(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('groups')
        batch_op.drop_column('preferred_language')
        batch_op.drop_column('employment_type')
        batch_op.drop_column('department')
        batch_op.drop_column('office')
        batch_op.drop_column('country')

    op.drop_table('document_audience')
    op.drop_table('collection_audience')
