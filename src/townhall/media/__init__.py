"""The embedded media plane (S5): WebRTC in, one server-side mix per room, batched fan-out.

It never decides who may speak. The control plane's room events say who is on stage and
who is muted; the media plane obeys them at once (``policy.py``). See docs/voice.md.
"""
