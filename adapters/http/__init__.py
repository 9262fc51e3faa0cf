"""The HTTP API v1: a FastAPI app built by ``app.create_app`` (nothing opens at import)."""
