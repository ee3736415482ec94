"""The release, at the bottom so anything may name it without importing the app factory."""
VERSION = "0.1.0"
