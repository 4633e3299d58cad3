"""stylescope's inference pipeline: video -> frames -> garments -> catalog -> index -> trends.

Importing this package is cheap: stage modules import their heavy dependencies themselves.
"""
