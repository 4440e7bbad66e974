"""audit log

Revision ID: 47a492e6f6be
Revises: ab5bab4a5583
Create Date: 2026-12-06 23:40:11.498233

The audit log: one row per sign-in, administrator's change, export and erasure,
only ever added. Its user ids are plain values, not foreign keys, so erasing a user
leaves the log whole.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '47a492e6f6be'
down_revision: str | None = 'ab5bab4a5583'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('audit_event',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Uuid(), nullable=True),
    sa.Column('action', sa.Enum('SIGN_IN', 'SIGN_IN_FAILED', 'USER_ROLE_CHANGED', 'USER_ATTRIBUTES_CHANGED', 'USER_DEACTIVATED', 'USER_REACTIVATED', 'USER_DELETED', 'USER_DATA_EXPORTED', 'USER_ERASED', 'AGENT_CREATED', 'AGENT_CHANGED', 'AGENT_DELETED', 'MODEL_CREATED', 'MODEL_CHANGED', 'MODEL_DELETED', 'COLLECTION_CREATED', 'COLLECTION_CHANGED', 'COLLECTION_DELETED', 'DOCUMENT_UPLOADED', 'DOCUMENT_CHANGED', 'DOCUMENT_DELETED', 'APPROVED_ANSWER_CREATED', 'APPROVED_ANSWER_CHANGED', 'APPROVED_ANSWER_RETIRED', name='auditaction', native_enum=False, length=40), nullable=False),
    sa.Column('target_type', sa.Unicode(length=40), nullable=True),
    sa.Column('target_id', sa.Uuid(), nullable=True),
    sa.Column('address', sa.Unicode(length=64), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('PK__audit_event'))
    )
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.create_index('IX__audit_event__actor_id__created_at', ['actor_id', 'created_at'], unique=False)
        batch_op.create_index('IX__audit_event__created_at__id', ['created_at', 'id'], unique=False)
        batch_op.create_index('IX__audit_event__target_id', ['target_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index('IX__audit_event__target_id')
        batch_op.drop_index('IX__audit_event__created_at__id')
        batch_op.drop_index('IX__audit_event__actor_id__created_at')

    op.drop_table('audit_event')
