"""Web Push (S9) against a push service of our own on a loopback port, which checks the VAPID
signature (RFC 8292) and decrypts what it receives (RFC 8291, aes128gcm of RFC 8188) with
its own code, written here from the RFCs rather than with the library the server uses."""

from __future__ import annotations

import asyncio
import base64
import json
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tests.api.roomkit import follow
from tests.api.test_ws import serving

HOSTS = ["127.0.0.1"]
PUSH = {"push_allow_http": True, "push_endpoint_hosts": HOSTS}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hkdf(salt: bytes, ikm: bytes, info: bytes, length: int) -> bytes:
    return HKDF(hashes.SHA256(), length, salt, info).derive(ikm)


@dataclass
class Device:
    """A browser's side of a subscription: its ECDH key pair and auth secret."""

    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: __import__("os").urandom(16))

    @property
    def public(self) -> bytes:
        return self.key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)

    def decrypt(self, body: bytes) -> bytes:
        """RFC 8291 section 3.4 and RFC 8188 section 2, for one record."""
        salt, rs, idlen = body[:16], struct.unpack("!I", body[16:20])[0], body[20]
        sender = body[21 : 21 + idlen]
        ciphertext = body[21 + idlen :]
        assert idlen == 65 and len(ciphertext) <= rs
        shared = self.key.exchange(
            ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), sender)
        )
        ikm = hkdf(self.auth, shared, b"WebPush: info\0" + self.public + sender, 32)
        cek = hkdf(salt, ikm, b"Content-Encoding: aes128gcm\0", 16)
        nonce = hkdf(salt, ikm, b"Content-Encoding: nonce\0", 12)
        plain = AESGCM(cek).decrypt(nonce, ciphertext, None)
        # The last record ends with the delimiter 0x02, then any padding of zeros.
        text = plain.rstrip(b"\0")
        assert text.endswith(b"\x02")
        return text[:-1]


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class PushService:
    """An ASGI push service: records each message, answers ``status`` (201 by default)."""

    def __init__(self) -> None:
        self.received: asyncio.Queue[Received] = asyncio.Queue()
        self.status = 201

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        await self.received.put(Received(scope["path"], headers, body))
        await send({"type": "http.response.start", "status": self.status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def next(self) -> Received:
        return await asyncio.wait_for(self.received.get(), 30)


def verify_vapid(authorization: str, audience: str) -> dict[str, Any]:
    """RFC 8292: ``vapid t=<JWT>, k=<key>``; the ES256 signature checks out with ``k``, and
    the claims name this service's origin. Returns the claims."""
    scheme, _, rest = authorization.partition(" ")
    assert scheme == "vapid"
    parts = dict(p.strip().split("=", 1) for p in rest.split(","))
    header, claims, signature = parts["t"].split(".")
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64(parts["k"]))
    raw = unb64(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        key.verify(der, f"{header}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise AssertionError("the VAPID signature does not verify") from None
    assert json.loads(unb64(header)) == {"typ": "JWT", "alg": "ES256"}
    found = json.loads(unb64(claims))
    assert found["aud"] == audience and found["sub"].startswith("mailto:")
    return found | {"k": parts["k"]}


@pytest.fixture
async def service() -> AsyncIterator[tuple[PushService, str]]:
    push = PushService()
    async with serving(push) as url:
        yield push, url.replace("ws://", "http://")


async def subscribe(client: Any, base: str, device: Device, name: str, **extra: Any) -> Any:
    return await client.put(
        "/api/me/push",
        json={
            "endpoint": f"{base}/push/{name}",
            "keys": {"p256dh": b64(device.public), "auth": b64(device.auth)},
            **extra,
        },
    )


@pytest.mark.settings(**PUSH)
async def test_a_notification_is_pushed_encrypted_and_signed(
    people: Any, service: tuple[PushService, str]
) -> None:
    """A new follower reaches the subscribed device: VAPID-signed by the key the API
    publishes, encrypted for the device alone, carrying the live notification."""
    push, base = service
    ann, bob = await people.member("ann"), await people.member("bob")
    status = (await ann.get("/api/me/push")).json()
    assert status["enabled"] and status["devices"] == 0
    device = Device()
    r = await subscribe(ann, base, device, "ann-phone", lang="ko")
    assert r.status_code == 200, r.text
    assert (await ann.get("/api/me/push")).json()["devices"] == 1

    await follow(bob, "ann")
    got = await push.next()
    assert got.path == "/push/ann-phone"
    assert got.headers["content-encoding"] == "aes128gcm"
    assert int(got.headers["ttl"]) > 0
    claims = verify_vapid(got.headers["authorization"], base)
    assert claims["k"] == status["public_key"]
    item = json.loads(device.decrypt(got.body))
    assert item["name"] == "user.followed" and item["actor"]["username"] == "bob"
    assert item["lang"] == "ko"
    assert isinstance(item["id"], int) and item["read"] is False
    # Another device's keys cannot read it.
    with pytest.raises(Exception):  # noqa: B017 - any failure of AES-GCM's tag check
        Device().decrypt(got.body)


@pytest.mark.settings(**PUSH, push_daily_cap=2)
async def test_pushes_follow_the_settings_and_the_daily_cap(
    people: Any, service: tuple[PushService, str]
) -> None:
    """A kind turned off is not pushed; past push_daily_cap nothing more is pushed that
    day, while the inbox still gets everything."""
    push, base = service
    ann = await people.member("ann")
    fans = [await people.member(f"fan{i}") for i in range(4)]
    assert (await subscribe(ann, base, Device(), "ann")).status_code == 200
    r = await ann.patch("/api/notifications/settings", json={"kinds": {"user.followed": False}})
    assert r.status_code == 200
    await follow(fans[0], "ann")
    r = await ann.patch("/api/notifications/settings", json={"kinds": {"user.followed": True}})
    assert r.status_code == 200
    for fan in fans[1:]:
        await follow(fan, "ann")
    # Everything after the requests above was delivered (the clients wait for the outbox).
    assert push.received.qsize() == 2
    inbox = (await ann.get("/api/notifications")).json()["items"]
    assert len(inbox) == 3


@pytest.mark.settings(**PUSH)
async def test_a_gone_subscription_is_forgotten(
    people: Any, service: tuple[PushService, str]
) -> None:
    """A push service answering 410 makes the server forget the device."""
    push, base = service
    ann, bob = await people.member("ann"), await people.member("bob")
    assert (await subscribe(ann, base, Device(), "old")).status_code == 200
    push.status = 410
    await follow(bob, "ann")
    await push.next()
    assert (await ann.get("/api/me/push")).json()["devices"] == 0


@pytest.mark.settings(**PUSH)
async def test_subscriptions_are_checked_and_end_with_their_session(
    people: Any, service: tuple[PushService, str]
) -> None:
    """Only known push services over https (or http where allowed), real keys; a device
    that signs out is no longer pushed to; unsubscribing is for one's own devices."""
    _, base = service
    ann = await people.member("ann")
    device = Device()
    for endpoint in (
        "https://evil.example/push",
        "http://127.0.0.2/push",
        "file:///etc/passwd",
        "http://user:pw@127.0.0.1/x",
    ):
        r = await ann.put(
            "/api/me/push",
            json={
                "endpoint": endpoint,
                "keys": {"p256dh": b64(device.public), "auth": b64(device.auth)},
            },
        )
        assert r.status_code == 400 and r.json()["error"]["code"] == "push_endpoint_refused", (
            endpoint
        )
    bad = {"p256dh": b64(b"\x05" + device.public[1:]), "auth": b64(device.auth)}
    r = await ann.put("/api/me/push", json={"endpoint": f"{base}/p", "keys": bad})
    assert r.json()["error"]["code"] == "invalid_push_keys"

    assert (await subscribe(ann, base, device, "phone")).status_code == 200
    other = await people.member("other")
    r = await other.request("DELETE", "/api/me/push", json={"endpoint": f"{base}/push/phone"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "push_subscription_not_found"
    asked = await ann.get("/api/me/push", params={"endpoint": f"{base}/push/phone"})
    assert asked.json()["subscribed"] is True
    assert (await ann.post("/api/auth/signout")).status_code == 200
    ann = await people.sign_in("ann@example.org")
    assert (await ann.get("/api/me/push")).json()["devices"] == 0


@pytest.mark.settings(push_daily_cap=0)
async def test_a_server_without_push_says_so(people: Any) -> None:
    """push_daily_cap = 0 turns Web Push off: subscribing is refused."""
    ann = await people.member("ann")
    assert (await ann.get("/api/me/push")).json()["enabled"] is False
    device = Device()
    r = await ann.put(
        "/api/me/push",
        json={
            "endpoint": "https://fcm.googleapis.com/fcm/send/x",
            "keys": {"p256dh": b64(device.public), "auth": b64(device.auth)},
        },
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "push_disabled"
