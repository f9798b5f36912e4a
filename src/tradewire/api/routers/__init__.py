"""REST routers, one per resource. Each does HTTP only: parse, call a use case, shape the answer."""
