"""Every HTTP router, in the order they are mounted."""

from townhall.api.routes import (
    admin,
    auth,
    clubs,
    events,
    hallway,
    health,
    invites,
    me,
    media,
    notifications,
    people,
    rooms,
    sessions,
    waitlist,
)

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
    clubs.router,
    clubs.pages,
    events.router,
    events.pages,
    media.router,
    notifications.router,
    hallway.router,
]
