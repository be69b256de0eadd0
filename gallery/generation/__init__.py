"""The pipeline: create, submit, track, ingest, retry and cancel a generation; references."""
