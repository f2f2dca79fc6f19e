"""Sources: turn each source's native records into envelopes or typed batches."""
