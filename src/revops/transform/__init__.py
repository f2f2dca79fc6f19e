"""Transforms: staging, facts and marts."""
