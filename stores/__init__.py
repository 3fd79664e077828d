"""Storage extensions loaded by the Rasa server (endpoints.yml)."""
