"""Tasks only the reliability tests' live servers install (``tests.reliability.server_settings``)."""
