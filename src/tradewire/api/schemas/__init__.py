"""Request and response bodies, one module per resource. Money is a decimal string in JSON, never a float."""
