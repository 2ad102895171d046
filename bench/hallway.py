"""How long one person's hallway takes to build, and how long a room start takes to reach
10,000 followers' inboxes, on a generated network in PostgreSQL.

Creates a fresh PostgreSQL database (dropped afterwards), migrates it, and fills it with
COPY: N users, a skewed follow graph (plus one "star" with F followers), blocks, clubs with
members, R live rooms with people on stage and in the audience (some social, closed or
members-only), and E upcoming events with hosts and reminders. Then, through the domain
services of a container built on that database (no HTTP):

1. builds the hallway of many random users (after a warm-up) and prints p50/p95/p99/max;
2. the star opens a room: prints the time of ``Rooms.create`` (which leaves the
   notification fan-out to the outbox worker), the time until the worker has written the
   followers' inboxes, and of the fan-out alone (the same happening told once more under a
   new key), with the number of inbox rows written.

Prints figures only (see bench/README.md). Example::

    python bench/hallway.py --users 100000 --rooms 1000 --events 5000 --samples 500
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from benchkit import POSTGRES_ADMIN, create_database, drop_database, pct

from townhall.app import build_container
from townhall.config import load_settings
from townhall.domain.happenings import Happening, Recipients
from townhall.storage import users as user_store
from townhall.storage.db import Database

NOW = datetime.now(UTC).replace(microsecond=0)
STAR = 1


def skewed(rng: random.Random, n: int) -> int:
    """An id in 1..n where low ids are far more popular (a rough power law)."""
    return 1 + int(n * rng.random() ** 3) % n


async def fill(dsn: str, args: argparse.Namespace, rng: random.Random) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    counts: dict[str, int] = {}
    try:
        n = args.users

        async def copy(table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
            await conn.copy_records_to_table(table, records=rows, columns=columns)
            counts[table] = len(rows)

        await copy(
            "users",
            [
                "id",
                "email",
                "username",
                "display_name",
                "bio",
                "links",
                "status",
                "show_nominator",
                "invites_left",
                "email_hash",
                "created_at",
                "joined_at",
            ],
            [
                (
                    i,
                    f"u{i}@example.org",
                    f"u{i}",
                    f"User {i}",
                    "",
                    "{}",
                    "member",
                    True,
                    2,
                    secrets.token_hex(32),
                    NOW,
                    NOW,
                )
                for i in range(1, n + 1)
            ],
        )
        await conn.execute(f"SELECT setval('users_id_seq', {n})")

        follows: set[tuple[int, int]] = set()
        for follower in range(2, args.star_followers + 2):
            follows.add((follower, STAR))
        for follower in range(1, n + 1):
            for _ in range(rng.randint(args.follows // 2, args.follows * 3 // 2)):
                followee = skewed(rng, n)
                if followee not in (follower, STAR):
                    follows.add((follower, followee))
        await copy(
            "follows",
            ["follower_id", "followee_id", "created_at"],
            [(a, b, NOW) for a, b in follows],
        )
        blocks = {(rng.randint(1, n), skewed(rng, n)) for _ in range(n // 5)}
        await copy(
            "blocks",
            ["blocker_id", "blocked_id", "created_at"],
            [(a, b, NOW) for a, b in blocks if a != b],
        )

        clubs = args.rooms // 5
        await copy(
            "clubs",
            [
                "id",
                "name",
                "name_key",
                "description",
                "rules",
                "policy",
                "founder_id",
                "created_at",
            ],
            [
                (c, f"Club {c}", f"club {c}", "", "[]", "open", rng.randint(1, n), NOW)
                for c in range(1, clubs + 1)
            ],
        )
        await conn.execute(f"SELECT setval('clubs_id_seq', {clubs})")
        club_members = {
            (rng.randint(1, clubs), skewed(rng, n)): rng.choice(["member", "follower", "admin"])
            for _ in range(clubs * 100)
        }
        await copy(
            "club_members",
            ["club_id", "user_id", "role", "created_at"],
            [(c, u, role, NOW) for (c, u), role in club_members.items()],
        )

        rooms: list[tuple[Any, ...]] = []
        members: dict[tuple[str, int], tuple[Any, ...]] = {}
        for r in range(args.rooms):
            room_id = f"bench{r:06d}"
            creator = skewed(rng, n)
            club = rng.randint(1, clubs) if rng.random() < 0.2 else None
            kind = rng.choices(["open", "social", "closed"], [85, 10, 5])[0]
            members_only = club is not None and rng.random() < 0.3
            rooms.append(
                (
                    room_id,
                    f"Room {r} about topic{rng.randint(1, 300)}",
                    kind,
                    "everyone",
                    creator,
                    "live",
                    0,
                    NOW - timedelta(minutes=rng.randint(1, 240)),
                    club,
                    members_only,
                )
            )
            size = min(3000, int(5 / (1 - rng.random()) ** 1.2))
            stage = [creator] + [skewed(rng, n) for _ in range(rng.randint(0, 6))]
            for i, uid in enumerate(stage):
                role = "moderator" if i == 0 else "speaker"
                members[(room_id, uid)] = (room_id, uid, role, True)
            for _ in range(size):
                uid = rng.randint(1, n)
                members.setdefault((room_id, uid), (room_id, uid, "listener", True))
        await copy(
            "rooms",
            [
                "id",
                "title",
                "kind",
                "hand_raise",
                "created_by_id",
                "status",
                "seq",
                "created_at",
                "club_id",
                "members_only",
            ],
            rooms,
        )
        await copy(
            "room_members",
            ["room_id", "user_id", "role", "muted", "joined_at", "last_seen_at"],
            [(*m, NOW - timedelta(minutes=rng.randint(0, 120)), NOW) for m in members.values()],
        )

        await copy(
            "events",
            [
                "id",
                "name",
                "description",
                "starts_at",
                "time_zone",
                "club_id",
                "members_only",
                "created_by_id",
                "status",
                "sequence",
                "created_at",
                "updated_at",
            ],
            [
                (
                    e,
                    f"Event {e}",
                    "",
                    NOW + timedelta(hours=rng.randint(1, 24 * 30)),
                    "Europe/Paris",
                    rng.randint(1, clubs) if rng.random() < 0.2 else None,
                    False,
                    skewed(rng, n),
                    "scheduled",
                    0,
                    NOW,
                    NOW,
                )
                for e in range(1, args.events + 1)
            ],
        )
        await conn.execute(f"SELECT setval('events_id_seq', {args.events})")
        hosts = {(e, skewed(rng, n)) for e in range(1, args.events + 1) for _ in range(2)}
        await copy(
            "event_hosts", ["event_id", "user_id", "position"], [(e, u, 0) for e, u in hosts]
        )
        reminders = {
            (rng.randint(1, args.events), rng.randint(1, n)) for _ in range(args.events * 5)
        }
        await copy(
            "event_reminders",
            ["event_id", "user_id", "created_at"],
            [(e, u, NOW) for e, u in reminders],
        )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return counts


async def measure(url: str, args: argparse.Namespace, rng: random.Random) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            None,
            database_url=url,
            data_dir=Path(tmp),
            public_url="http://bench.test",
            secret_key="bench",
            limit_room_creations_per_user="1000/3600",
        )
        container = build_container(settings)
        try:
            ids = [rng.randint(1, args.users) for _ in range(args.samples + args.warmup)]
            async with container.db.transaction() as tx:
                people = await user_store.by_ids(tx, sorted(set(ids)))
            timings: list[float] = []
            events_part: list[float] = []
            shown = hidden = 0
            for i, uid in enumerate(ids):
                started = time.perf_counter()
                body = await container.hallway.build(people[uid], 30)
                took = (time.perf_counter() - started) * 1000
                started = time.perf_counter()
                await container.events.upcoming_for(uid, 10)
                events_took = (time.perf_counter() - started) * 1000
                if i >= args.warmup:
                    timings.append(took)
                    events_part.append(events_took)
                    shown += len(body["rooms"])
                    hidden += body["hidden_rooms"]
            print(
                f"hallway, {len(timings)} random users: p50 {pct(timings, 50):.1f} ms, "
                f"p95 {pct(timings, 95):.1f} ms, p99 {pct(timings, 99):.1f} ms, "
                f"max {max(timings):.1f} ms (avg {shown / len(timings):.1f} rooms shown, "
                f"{hidden / len(timings):.2f} hidden)"
            )
            print(
                f"  of which upcoming events (Events.upcoming_for, timed apart): "
                f"p50 {pct(events_part, 50):.1f} ms, p95 {pct(events_part, 95):.1f} ms"
            )

            async with container.db.transaction() as tx:
                star = await user_store.by_id(tx, STAR)
            assert star is not None
            # Only the outbox worker: the room sweeper would end the generated rooms.
            container.outbox.start()
            await container.outbox.settled()
            started = time.perf_counter()
            room = await container.rooms.create(star, "The star speaks", "open", "everyone")
            took = time.perf_counter() - started
            await container.outbox.settled()
            told = time.perf_counter() - started
            print(
                f"room.started by a user with {args.star_followers} followers: "
                f"Rooms.create {took * 1000:.0f} ms (the fan-out is left to the outbox), "
                f"followers' inboxes written {told * 1000:.0f} ms after the call"
            )
            happening = Happening(
                "room.started",
                Recipients(followers_of=(STAR,)),
                actor_id=STAR,
                data={"room": room["id"], "title": "again"},
                key=f"bench:{secrets.token_hex(4)}",
            )
            started = time.perf_counter()
            await container.notifications.on_happening(happening)
            took = time.perf_counter() - started
            conn = await asyncpg.connect(args.dsn)
            try:
                rows = await conn.fetchval(
                    "SELECT count(*) FROM inbox WHERE notification_id = "
                    "(SELECT max(id) FROM notifications)"
                )
            finally:
                await conn.close()
            print(f"fan-out alone: {took * 1000:.0f} ms, {rows} inbox rows")
        finally:
            await container.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--follows", type=int, default=30, help="average follows per user")
    parser.add_argument("--star-followers", type=int, default=10_000)
    parser.add_argument("--rooms", type=int, default=1_000)
    parser.add_argument("--events", type=int, default=5_000)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="do not drop the database")
    parser.add_argument("--reuse", metavar="NAME", help="measure again on a kept database")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    if args.reuse:
        name = args.reuse
        base = POSTGRES_ADMIN.rsplit("/", 1)[0]
        url = f"{base.replace('postgresql://', 'postgresql+asyncpg://')}/{name}"
        args.keep = True
    else:
        name, url = await create_database()
    args.dsn = f"{POSTGRES_ADMIN.rsplit('/', 1)[0]}/{name}"
    try:
        if not args.reuse:
            db = Database(url)
            await db.migrate()
            await db.close()
            started = time.perf_counter()
            counts = await fill(args.dsn, args, rng)
            print(f"generated in {time.perf_counter() - started:.0f} s: {json.dumps(counts)}")
        await measure(url, args, rng)
    finally:
        if args.keep:
            print(f"kept database {name}", file=sys.stderr)
        else:
            await drop_database(name)


if __name__ == "__main__":
    asyncio.run(main())
