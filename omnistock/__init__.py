"""Omnistock: command line and process settings."""
