"""Local stand-ins for external SaaS APIs: real aiohttp servers speaking the provider's
documented HTTP API (paths, fields, auth, error bodies), so our client code runs unchanged
against them."""
