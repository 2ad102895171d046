"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from townhall.api.deps import ContainerDep

router = APIRouter(tags=["health"])


class HealthOut(BaseModel):
    status: str
    database: str


@router.get("/healthz", response_model=HealthOut)
async def healthz(container: ContainerDep) -> HealthOut:
    """Answers when the process is up and its database reachable."""
    await container.db.ping()
    return HealthOut(status="ok", database=container.db.dialect)
