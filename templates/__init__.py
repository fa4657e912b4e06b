"""Jinja2 templates for reports (package data)."""
