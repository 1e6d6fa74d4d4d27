"""Ingest: from a source to chunks in the index. connectors fetch documents, parsing turns
files into text, chunking cuts text into sections, jobs runs a sync or a reindex and records
its progress (progress relays it to the console), gitfiles reads Git sources' files."""
