"""Every HTTP router, in the order they are mounted."""

from townhall.api.routes import admin, auth, health, invites, me, people, rooms, sessions, waitlist

ROUTERS = [
    health.router,
    auth.router,
    auth.pages,
    me.router,
    sessions.router,
    invites.router,
    waitlist.router,
    admin.router,
    people.router,
    rooms.router,
    rooms.pages,
]
