"""dockscan gateway: MQTT ingest, SQLite store, acks, web UI, API and metrics."""
