"""The process side: the ASGI application, its lifespan, and the multi-worker supervisor."""
