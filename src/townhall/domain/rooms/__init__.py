"""Live rooms: rules, the room service and its events."""
