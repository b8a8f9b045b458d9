"""Twilio SMS and voice. ``sdk`` is the only module that imports the twilio package."""
