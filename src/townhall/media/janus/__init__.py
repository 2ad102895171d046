"""Janus as the media plane, for deployments that outgrow one machine (docs/voice.md)."""
