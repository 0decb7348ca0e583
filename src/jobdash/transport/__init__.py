"""Getting messages in and commands out: codec, sources, sinks, ingestion."""
