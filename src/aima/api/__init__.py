"""HTTP edge: FastAPI app factory, routes, auth dependencies, error mapping, metrics."""
