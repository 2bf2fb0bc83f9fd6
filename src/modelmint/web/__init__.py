"""The web dashboard, served by the API and built on services."""
