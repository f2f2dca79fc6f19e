"""Local stand-ins for external sources, for the demo and for tests over real HTTP.

``revops.dev.ads_api``: the ads reporting API with fault injection (``revops dev ads-api``);
``revops.dev.demo_sources``: a SQLite CRM and monthly sales CSVs coherent with it.
"""
