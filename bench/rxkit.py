"""A light receiver for fan-out benchmarks: counts many sockets' RTP in C, not in Python.

The sockets of a worker's listeners are read by one thread in a small native loop
(epoll, then ``recvmmsg`` per ready socket; it polls every millisecond rather than sleep
in epoll, so the server does not pay a wake-up per packet sent). RTP is only counted, by
the sequence number in its clear header (never decrypted); whatever is not RTP or RTCP
(STUN, DTLS) is handed back to Python, to the aiortc connection it belongs to, so consent
checks keep the connection up. Built with cffi on first use, like the server's fan-out loop. Not a
benchmark of its own.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.machinery
import importlib.util
import os
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cffi

CDEF = """
typedef struct { int64_t first, last, count; } rx_counter;
int rx_open(void);
int rx_add(int ep, int fd, int index);
int rx_drain(int ep, int *fds, rx_counter *counters, int timeout_ms,
             unsigned char *out, int out_size, int *out_used);
"""

SOURCE = r"""
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <time.h>

typedef struct { int64_t first, last, count; } rx_counter;

#define RX_BATCH 64
#define RX_EVENTS 256
#define RX_SIZE 1600

static int rx_open(void) { return epoll_create1(EPOLL_CLOEXEC); }

static int rx_add(int ep, int fd, int index)
{
    struct epoll_event e;
    memset(&e, 0, sizeof e);
    e.events = EPOLLIN;
    e.data.u32 = (uint32_t)index;
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
}

static void rx_seen(rx_counter *c, unsigned int seq)
{
    if (c->first < 0) {
        c->first = c->last = seq;
    } else {
        unsigned int step = (seq - (unsigned int)(c->last & 0xFFFF)) & 0xFFFF;
        if (step >= 0x8000)
            return; /* late or repeated */
        c->last += step;
    }
    c->count++;
}

/* Drain every ready socket. Datagrams that are not
 * RTP or RTCP are written to out as [index u32][port u16][ipv4 4][len u16][data]; stops
 * early when out is nearly full. Returns the datagrams counted, -1 on error. */
static int rx_drain(int ep, int *fds, rx_counter *counters, int timeout_ms,
                    unsigned char *out, int out_size, int *out_used)
{
    static __thread unsigned char bufs[RX_BATCH][RX_SIZE];
    static __thread struct mmsghdr msgs[RX_BATCH];
    static __thread struct iovec iov[RX_BATCH];
    static __thread struct sockaddr_in names[RX_BATCH];
    struct epoll_event events[RX_EVENTS];
    int n, i, j, got, counted = 0, used = 0;

    /* Never block in epoll_wait: a sleeping waiter is woken by every datagram, and on
     * loopback the sender pays for that wake-up (a remote listener's costs the server
     * nothing). Look, and when nothing is there sleep a millisecond instead. */
    (void)timeout_ms;
    n = epoll_wait(ep, events, RX_EVENTS, 0);
    if (n == 0) {
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
        *out_used = 0;
        return 0;
    }
    if (n < 0)
        return errno == EINTR ? 0 : -1;
    for (i = 0; i < n; i++) {
        int index = (int)events[i].data.u32;
        for (;;) {
            for (j = 0; j < RX_BATCH; j++) {
                iov[j].iov_base = bufs[j];
                iov[j].iov_len = RX_SIZE;
                memset(&msgs[j], 0, sizeof msgs[j]);
                msgs[j].msg_hdr.msg_iov = &iov[j];
                msgs[j].msg_hdr.msg_iovlen = 1;
                msgs[j].msg_hdr.msg_name = &names[j];
                msgs[j].msg_hdr.msg_namelen = sizeof names[j];
            }
            got = recvmmsg(fds[index], msgs, RX_BATCH, MSG_DONTWAIT, NULL);
            if (got <= 0)
                break;
            for (j = 0; j < got; j++) {
                unsigned char *d = bufs[j];
                unsigned int len = msgs[j].msg_len;
                if (len >= 12 && d[0] > 127 && d[0] < 192) {
                    if (!(d[1] >= 192 && d[1] <= 223)) { /* RTP, not RTCP */
                        rx_seen(&counters[index], ((unsigned int)d[2] << 8) | d[3]);
                        counted++;
                    }
                    continue;
                }
                if (used + 12 + (int)len > out_size)
                    continue; /* no room: a STUN retry will come */
                memcpy(out + used, &index, 4);
                memcpy(out + used + 4, &names[j].sin_port, 2);
                memcpy(out + used + 6, &names[j].sin_addr, 4);
                out[used + 10] = (unsigned char)(len >> 8);
                out[used + 11] = (unsigned char)len;
                memcpy(out + used + 12, d, len);
                used += 12 + (int)len;
            }
            if (got < RX_BATCH)
                break;
        }
    }
    *out_used = used;
    return counted;
}
"""

_module: Any = None


def native() -> Any:
    """The compiled helper (built into ``~/.cache/townhall/bench`` on first use)."""
    global _module
    if _module is not None:
        return _module
    key = hashlib.sha256((CDEF + SOURCE + sys.implementation.cache_tag).encode()).hexdigest()
    name = f"_rxkit_{key[:16]}"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    target = (
        Path(base) / "townhall" / "bench" / f"{name}{importlib.machinery.EXTENSION_SUFFIXES[0]}"
    )
    if not target.exists():
        ffi = cffi.FFI()
        ffi.cdef(CDEF)
        ffi.set_source(name, SOURCE, extra_compile_args=["-O2"])
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            os.replace(ffi.compile(tmpdir=tmp, verbose=False), target)
    spec = importlib.util.spec_from_file_location(name, target)
    assert spec is not None and spec.loader is not None
    _module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(_module)
    return _module


Deliver = Callable[[bytes, tuple[str, int]], None]


class Counting:
    """Up to ``capacity`` sockets counted by one thread; their other datagrams go to their
    ``deliver`` on the event loop. Sockets can be added while it runs."""

    def __init__(self, loop: asyncio.AbstractEventLoop, capacity: int) -> None:
        self._m = native()
        ffi = self._m.ffi
        self._loop = loop
        self._ep = self._m.lib.rx_open()
        self._capacity = capacity
        self._fds = ffi.new("int[]", capacity)
        self.counters = ffi.new("rx_counter[]", capacity)
        self._deliver: list[Deliver] = []
        self._zero()
        self._stop = False
        self._reset: threading.Event | None = None
        self._thread = threading.Thread(target=self._run, name="rx-count", daemon=True)
        self._thread.start()

    def add(self, fd: int, deliver: Deliver) -> None:
        index = len(self._deliver)
        if index >= self._capacity:
            raise ValueError("more sockets than the capacity")
        self._fds[index] = fd
        self._deliver.append(deliver)
        if self._m.lib.rx_add(self._ep, fd, index) != 0:
            raise OSError(f"epoll_ctl failed for fd {fd}")

    def reset(self) -> None:
        """Start counting again (done by the counting thread, between two drains)."""
        done = threading.Event()
        self._reset = done
        done.wait()

    def _zero(self) -> None:
        for i in range(self._capacity):
            c = self.counters[i]
            c.first, c.last, c.count = -1, -1, 0

    def totals(self) -> tuple[int, int, int]:
        """(received, expected by sequence span, sockets that received nothing)."""
        received = expected = silent = 0
        for i in range(len(self._deliver)):
            c = self.counters[i]
            received += c.count
            expected += 0 if c.first < 0 else c.last - c.first + 1
            silent += c.count == 0
        return received, expected, silent

    def close(self) -> None:
        self._stop = True
        self._thread.join()
        os.close(self._ep)

    def _run(self) -> None:
        ffi, lib = self._m.ffi, self._m.lib
        out = ffi.new("unsigned char[]", 1 << 16)
        used = ffi.new("int *")
        while not self._stop:
            if self._reset is not None:
                self._zero()
                self._reset.set()
                self._reset = None
            used[0] = 0
            lib.rx_drain(self._ep, self._fds, self.counters, 100, out, 1 << 16, used)
            if used[0]:
                self._loop.call_soon_threadsafe(self._hand_over, bytes(ffi.buffer(out, used[0])))

    def _hand_over(self, chunk: bytes) -> None:
        offset = 0
        while offset < len(chunk):
            index = int.from_bytes(chunk[offset : offset + 4], sys.byteorder)
            port = int.from_bytes(chunk[offset + 4 : offset + 6], "big")
            host = ".".join(str(b) for b in chunk[offset + 6 : offset + 10])
            size = int.from_bytes(chunk[offset + 10 : offset + 12], "big")
            data = chunk[offset + 12 : offset + 12 + size]
            offset += 12 + size
            try:
                self._deliver[index](data, (host, port))
            except Exception:  # a closing connection; the bench counts what matters
                continue
