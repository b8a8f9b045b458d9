"""Knowledge base: articles, search, suggestions and macros (later issues)."""
