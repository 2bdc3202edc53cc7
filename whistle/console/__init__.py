"""The liaison console and the terminal breach board: thin clients of the HTTP API."""
