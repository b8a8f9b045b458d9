"""The composition root: settings, database, event bus, app factory, workers and CLI."""
