"""Laurel's domain and data layers, shared by the API and every event-driven function."""
