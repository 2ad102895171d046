"""The WebSocket gateway: one authenticated socket per client for live events and commands."""
