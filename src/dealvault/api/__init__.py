"""The HTTP edge: a FastAPI application over the same flows the CLI calls; identity comes
from the signed-in session or an API token, never from a parameter."""
