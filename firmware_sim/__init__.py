"""Device simulators speaking real wire protocols over pseudo-terminals, TCP and frames."""
