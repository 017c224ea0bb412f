"""dockscan edge agent: devices, station logic, durable outbox and MQTT publisher."""
