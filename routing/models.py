"""Tables owned by the routing room (filled in by the routing engine issue)."""
