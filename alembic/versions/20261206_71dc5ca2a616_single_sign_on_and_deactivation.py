"""single sign-on and deactivation

Revision ID: 71dc5ca2a616
Revises: 8c96a816beaf
Create Date: 2026-12-06 18:23:33.364384

Users can be deactivated, carry a token version that revokes their earlier tokens,
and may be tied to an identity at an OpenID Connect provider (issuer and subject);
single sign-on hands the single-page app a one-time code, kept as its hash.
Self-contained: it adds one table and columns, and touches nothing else.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '71dc5ca2a616'
down_revision: str | None = '8c96a816beaf'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sign_in_code',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('code_hash', sa.Unicode(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('FK__sign_in_code__user')),
    sa.PrimaryKeyConstraint('id', name=op.f('PK__sign_in_code')),
    sa.UniqueConstraint('code_hash', name=op.f('UQ__sign_in_code__code_hash'))
    )
    with op.batch_alter_table('sign_in_code', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('IX__sign_in_code__user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deactivated_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('token_version', sa.Integer(), server_default=sa.text('0'), nullable=False))
        batch_op.add_column(sa.Column('sso_issuer', sa.Unicode(length=500), nullable=True))
        batch_op.add_column(sa.Column('sso_subject', sa.Unicode(length=255), nullable=True))
        batch_op.create_index('UX__user__sso_issuer_sso_subject', ['sso_issuer', 'sso_subject'], unique=True, sqlite_where=sa.text('deleted_at IS NULL AND sso_subject IS NOT NULL'), postgresql_where=sa.text('deleted_at IS NULL AND sso_subject IS NOT NULL'), mssql_where=sa.text('deleted_at IS NULL AND sso_subject IS NOT NULL'))



def downgrade() -> None:
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_index('UX__user__sso_issuer_sso_subject', sqlite_where=sa.text('deleted_at IS NULL AND sso_subject IS NOT NULL'), postgresql_where=sa.text('deleted_at IS NULL AND sso_subject IS NOT NULL'), mssql_where=sa.text('deleted_at IS NULL AND sso_subject IS NOT NULL'))
        batch_op.drop_column('sso_subject')
        batch_op.drop_column('sso_issuer')
        batch_op.drop_column('token_version')
        batch_op.drop_column('deactivated_at')

    with op.batch_alter_table('sign_in_code', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('IX__sign_in_code__user_id'))

    op.drop_table('sign_in_code')
