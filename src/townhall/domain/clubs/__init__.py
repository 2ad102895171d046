"""S7 clubs: groups around an interest, their roles, membership and rooms."""
