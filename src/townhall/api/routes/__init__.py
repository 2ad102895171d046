"""Every HTTP router, in the order they are mounted."""

from townhall.api.routes import auth, health, invites, sessions

ROUTERS = [
    health.router,
    auth.router,
    auth.pages,
    sessions.router,
    invites.router,
]
