"""How fast the ledger writes: tips' capture entries posted at a given concurrency, each
once for its key, then as many repeats of the same keys (which must move nothing), on
SQLite and PostgreSQL. Prints entries a second and per-entry latency percentiles.

    PYTHONPATH=src python bench/ledger.py [--entries 2000] [--concurrency 16]

Every entry touches the ``clearing`` account's row, so on PostgreSQL writers queue on that
row's lock: the figure is the ledger's ceiling on one database, not the API's."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchkit import bench_container, bench_env, create_database, drop_database, pct

from townhall.domain import ledger
from townhall.storage import ledger as store


async def run(database_url: str, tmp: Path, entries: int, concurrency: int) -> None:
    container = bench_container(bench_env(tmp, "http://127.0.0.1"), database_url)
    try:
        await container.db.migrate()
        payees = [
            (await container.accounts.create_account(f"p{n}@example.org", f"payee{n}")).id
            for n in range(20)
        ]
        now = container.clock.now()
        run_id = uuid.uuid4().hex[:8]
        split = ledger.Split(500, 45, 0)
        postings = [
            ledger.capture(f"bench:{run_id}:{n}", "tip", "EUR", payees[n % 20], split)
            for n in range(entries)
        ]
        gate = asyncio.Semaphore(concurrency)

        async def post(p: ledger.Posting, times: list[float], new: list[bool]) -> None:
            async with gate:
                began = time.perf_counter()
                async with container.db.transaction() as tx:
                    new.append((await store.post(tx, p, now)).new)
                times.append(time.perf_counter() - began)

        for label in ("first", "repeat"):
            times: list[float] = []
            new: list[bool] = []
            began = time.perf_counter()
            await asyncio.gather(*(post(p, times, new) for p in postings))
            took = time.perf_counter() - began
            print(
                f"  {label:6}: {entries / took:7.0f} entries/s, p50 {pct(times, 50) * 1000:.1f} ms,"
                f" p95 {pct(times, 95) * 1000:.1f} ms, written {sum(new)}"
            )
        async with container.db.transaction() as tx:
            audit = await store.audit(tx)
        print(f"  audit: ok={audit.ok} entries={audit.entries} accounts={audit.accounts}")
    finally:
        await container.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(f"sqlite, {args.entries} entries, concurrency {args.concurrency}")
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        await run(url, Path(tmp), args.entries, args.concurrency)
        name, url = await create_database()
        try:
            print(f"postgresql, {args.entries} entries, concurrency {args.concurrency}")
            await run(url, Path(tmp), args.entries, args.concurrency)
        finally:
            await drop_database(name)


if __name__ == "__main__":
    asyncio.run(main())
