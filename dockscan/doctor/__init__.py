"""`dockscan doctor`: pre-go-live checks of a station or gateway host, one row per check."""
