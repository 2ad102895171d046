"""Read limits on what a scraper wants: profiles, people search, follower and following
lists and club members, counted per person and per client address (issue 11 item 7)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from townhall.api.deps import ContainerDep, IpDep, MemberDep, OptionalUserDep
from townhall.app import Container


async def _count(container: Container, ip: str, user_id: int | None) -> None:
    s = container.settings
    # The address first: a refusal by it spends none of the person's own allowance.
    if user_id is None:
        await container.limiter.hit(f"reads-visitor:{ip}", s.limit_visitor_reads_per_ip)
        return
    await container.limiter.hit(f"reads-ip:{ip}", s.limit_reads_per_ip)
    await container.limiter.hit(f"reads:{user_id}", s.limit_reads_per_user)


async def count_member_read(user: MemberDep, ip: IpDep, container: ContainerDep) -> None:
    """For reads open to members only (search and lists); the route's own ``MemberDep``
    is the same dependency, so the person is authenticated once."""
    await _count(container, ip, user.id)


async def count_read(viewer: OptionalUserDep, ip: IpDep, container: ContainerDep) -> None:
    """For reads open to visitors too (profiles)."""
    await _count(container, ip, viewer.id if viewer is not None else None)


MemberRead = Annotated[None, Depends(count_member_read)]
AnyoneRead = Annotated[None, Depends(count_read)]
