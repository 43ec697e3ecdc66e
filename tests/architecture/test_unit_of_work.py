"""Who commits: a service commits its own change; a request's session never commits what is left.

A route that leaves a change no service committed is an error (``UncommittedChange``), not a
silent write, and nothing of it reaches the database.
"""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from loopback.kit.db import Database, UncommittedChange
from loopback.kit.ids import new_id
from loopback.runtime import Runtime
from loopback.tenancy.auth import DbSession
from loopback.tenancy.models import User


def app_over(db: Database) -> FastAPI:
    app = FastAPI()
    app.state.db = db

    @app.post("/forgets")
    def forgets(session: DbSession) -> dict[str, str]:
        session.add(User(id=new_id("usr"), email="forgotten@example.test"))
        return {}

    @app.post("/commits")
    def commits(session: DbSession) -> dict[str, str]:
        session.add(User(id=new_id("usr"), email="kept@example.test"))
        session.commit()
        return {}

    @app.get("/reads")
    def reads(session: DbSession) -> dict[str, int]:
        return {"users": session.scalar(select(func.count()).select_from(User)) or 0}

    return app


def test_a_change_no_service_committed_is_an_error_and_is_not_written(runtime: Runtime) -> None:
    client = TestClient(app_over(runtime.db))
    before = client.get("/reads").json()["users"]
    with pytest.raises(UncommittedChange):
        client.post("/forgets")
    assert client.get("/reads").json()["users"] == before
    assert client.post("/commits").status_code == 200
    assert client.get("/reads").json()["users"] == before + 1
