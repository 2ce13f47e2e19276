"""Presentation: terminal tables, JSON, plots, HTML.  Reads results, computes nothing."""
