"""First start: the operator, ``demo``/``default`` and a token, made once and kept."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select

from loopback.kit.clock import utcnow
from loopback.kit.settings import Settings
from loopback.runtime import Runtime
from loopback.tenancy.access import hash_token
from loopback.tenancy.models import ApiToken, Membership, Organization, Project, User
from loopback.tenancy.service import bootstrap
from tests.conftest import BUCKETS


def counts(runtime: Runtime) -> dict[str, int]:
    with runtime.db.session() as session:
        return {
            model.__tablename__: int(session.scalar(select(func.count()).select_from(model)) or 0)
            for model in (User, Organization, Project, Membership, ApiToken)
        }


def test_bootstrap_twice_creates_nothing_twice(runtime: Runtime, settings: Settings) -> None:
    before = counts(runtime)
    assert before == {"users": 1, "organizations": 1, "projects": 1, "memberships": 1, "api_tokens": 1}
    with runtime.db.session() as session:
        result = bootstrap(session, settings)
    assert result.token is None
    assert counts(runtime) == before


def test_a_generated_token_is_written_0600_and_stored_hashed(
    runtime: Runtime, settings: Settings, tmp_path: Path
) -> None:
    generated = settings.model_copy(update={"bootstrap_token": None, "data_dir": tmp_path / "fresh"})
    with runtime.db.session() as session:
        # the configured token is replaced by a generated one only when no live bootstrap token exists
        for token in session.scalars(select(ApiToken)):
            token.revoked_at = utcnow()
        session.commit()
        result = bootstrap(session, generated)
    assert result.token is not None
    assert result.token_file is not None
    assert result.token_file.stat().st_mode & 0o777 == 0o600
    assert result.token_file.read_text().strip() == result.token
    with runtime.db.session() as session:
        hashes = session.scalars(select(ApiToken.token_hash)).all()
    assert hash_token(result.token) in hashes
    assert result.token not in hashes
    with runtime.db.session() as session:
        assert bootstrap(session, generated).token is None  # printed once only


def test_a_new_configured_token_replaces_the_old_one(runtime: Runtime, settings: Settings) -> None:
    from loopback.app import create_app

    rotated = settings.model_copy(update={"bootstrap_token": SecretStr("lbk_rotated-token")})
    with runtime.db.session() as session:
        bootstrap(session, rotated)
    with TestClient(create_app(runtime)) as client:
        assert client.get(BUCKETS, headers={"Authorization": "Bearer lbk_rotated-token"}).status_code == 200
        assert (
            client.get(BUCKETS, headers={"Authorization": "Bearer lbk_test-operator-token"}).status_code
            == 401
        )


def test_expired_and_revoked_tokens_answer_401(client: TestClient, runtime: Runtime) -> None:
    assert client.get(BUCKETS).status_code == 200
    with runtime.db.session() as session:
        token = session.scalars(select(ApiToken)).one()
        token.expires_at = utcnow() - timedelta(seconds=1)
    assert client.get(BUCKETS).status_code == 401
    with runtime.db.session() as session:
        token = session.scalars(select(ApiToken)).one()
        token.expires_at = None
        token.revoked_at = utcnow()
    assert client.get(BUCKETS).status_code == 401
