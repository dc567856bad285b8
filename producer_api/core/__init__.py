"""Configuration of the ingress."""
