"""Private local services for `dockscan demo --scale` and the tests: PostgreSQL and NATS."""
