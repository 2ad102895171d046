"""The native fan-out loop (``fanout.c``), built on first use.

It is compiled with cffi into a cache directory (``$XDG_CACHE_HOME/townhall/native``, or
``~/.cache/townhall/native``) the first time it is needed, and loaded from there after:
the set-up of ``scripts/serve.sh`` and ``scripts/test.sh`` builds it ahead
(``python -m townhall.media.native``). It links no library: it protects with the libsrtp
pylibsrtp carries, through a function pointer (``shim.srtp_protect_address``), using the
SRTP contexts aiortc negotiated. Building needs a C compiler and Python's headers; when
either is missing, ``load()`` says why and the media plane uses the pure-Python loop
(``media/session.py send_to_all``), which sends the same bytes.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import socket
import struct
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cffi  # type: ignore[import-untyped]

from townhall.media import shim

logger = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("fanout.c")

CDEF = """
struct th_outlet;
void th_init(void *protect);
int th_max_payload(void);
struct th_outlet *th_outlet_new(void *srtp, uint32_t ssrc, int payload_type, int seq,
                                uint32_t ts);
void th_outlet_free(struct th_outlet *o);
void th_outlet_route(struct th_outlet *o, int fd, const unsigned char *addr, size_t addrlen);
int th_outlet_seq(const struct th_outlet *o);
uint32_t th_outlet_ts(const struct th_outlet *o);
int th_send(struct th_outlet *const *outlets, int n, const unsigned char *payload, int len,
            uint32_t samples);
"""


@dataclass(frozen=True)
class Native:
    """The loaded module: cffi's ``ffi`` and ``lib``, and what the media plane calls."""

    ffi: Any
    lib: Any
    path: Path

    def outlet(self, srtp: int, ssrc: int, payload_type: int, seq: int, ts: int) -> Any:
        """A listener's outlet: the address of its outbound ``srtp_t`` (which the caller
        keeps alive as long as the outlet), its SSRC and payload type, and the last
        sequence number and timestamp sent. Freed when no longer referenced."""
        made = self.lib.th_outlet_new(self.ffi.cast("void *", srtp), ssrc, payload_type, seq, ts)
        if made == self.ffi.NULL:
            raise MemoryError("no memory for a native outlet")
        return self.ffi.gc(made, self.lib.th_outlet_free)

    def route(self, outlet: Any, fd: int, addr: tuple[Any, ...] | None) -> None:
        """Send from socket ``fd`` to ``addr`` (host, port); fd -1: send nothing."""
        if fd < 0 or addr is None:
            self.lib.th_outlet_route(outlet, -1, self.ffi.NULL, 0)
            return
        packed = sockaddr(addr[0], int(addr[1]))
        self.lib.th_outlet_route(outlet, fd, packed, len(packed))

    def batch(self, outlets: list[Any]) -> Any:
        """An array of outlets for ``send``; the caller keeps the outlets referenced."""
        return self.ffi.new("struct th_outlet *[]", outlets)

    def send(self, batch: Any, count: int, payload: bytes, samples: int) -> int:
        """One payload to the first ``count`` outlets of ``batch``: packets sent."""
        sent: int = self.lib.th_send(batch, count, payload, len(payload), samples)
        if sent < 0:
            raise ValueError(f"a payload of {len(payload)} bytes is too long to send")
        return sent

    def state(self, outlet: Any) -> tuple[int, int]:
        """(sequence number, timestamp) of the last packet sent."""
        return int(self.lib.th_outlet_seq(outlet)), int(self.lib.th_outlet_ts(outlet))


def sockaddr(host: str, port: int) -> bytes:
    """``struct sockaddr_in`` or ``sockaddr_in6`` for an address, as the kernel takes it."""
    if ":" in host:
        return (
            struct.pack("=H", socket.AF_INET6)
            + struct.pack("!HI", port, 0)
            + socket.inet_pton(socket.AF_INET6, host)
            + struct.pack("=I", 0)
        )
    return (
        struct.pack("=H", socket.AF_INET)
        + struct.pack("!H", port)
        + socket.inet_pton(socket.AF_INET, host)
        + bytes(8)
    )


_loaded: Native | None = None
_why_not: str | None = None


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "townhall" / "native"


def _key() -> str:
    digest = hashlib.sha256()
    digest.update(SOURCE.read_bytes())
    digest.update(CDEF.encode())
    digest.update(f"{sys.implementation.cache_tag} {cffi.__version__}".encode())
    return digest.hexdigest()[:16]


def _build(name: str, target: Path) -> None:
    """Compile into a directory of its own, then move the library into place at once:
    processes that start together never load half a file."""
    ffi = cffi.FFI()
    ffi.cdef(CDEF)
    ffi.set_source(name, SOURCE.read_text(), extra_compile_args=["-O2"])
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix="build-") as tmp:
        built = Path(ffi.compile(tmpdir=tmp, verbose=False))
        os.replace(built, target)


def load(build: bool = True) -> Native | None:
    """The native loop, building it first if needed (and ``build``); None if it cannot be
    had, with the reason in ``why_not()``. Tried once per process."""
    global _loaded, _why_not
    if _loaded is not None or _why_not is not None:
        return _loaded
    try:
        name = f"_townhall_fanout_{_key()}"
        suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
        target = cache_dir() / f"{name}{suffix}"
        if not target.exists():
            if not build:
                _why_not = f"not built yet ({target})"
                return None
            _build(name, target)
        spec = importlib.util.spec_from_file_location(name, target)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.lib.th_init(module.ffi.cast("void *", shim.srtp_protect_address()))
        _loaded = Native(module.ffi, module.lib, target)
    except Exception as exc:
        _why_not = _reason(exc)
        logger.warning(
            "media: the native fan-out loop is not available (%s); using the Python loop",
            _why_not,
        )
        return None
    return _loaded


def why_not() -> str | None:
    """Why ``load()`` found no native loop (None when it did, or has not been asked)."""
    return _why_not


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    detail = text[-1] if text else type(exc).__name__
    if "Python.h" in str(exc):
        return f"Python's headers (python3-dev) are missing: {detail}"
    return f"{type(exc).__name__}: {detail}"


def main() -> int:
    """Build (if needed) and say where it is, or why not: the scripts' set-up step."""
    native = load()
    if native is None:
        print(f"native fan-out loop: not available ({why_not()}); the Python loop is used")
        return 0
    print(f"native fan-out loop: {native.path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
