"""Routing: queues, skills, agents, presence, capacity, offers; the assignment engine."""
