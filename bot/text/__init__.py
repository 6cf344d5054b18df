"""Shared Chinese text helpers: tracking numbers, PII masking, normalisation, gazetteer, dates."""
