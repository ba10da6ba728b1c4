"""Seller-only views that branch off the model: scorecard and dashboard. Never part of a
deal site."""
