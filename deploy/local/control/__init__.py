"""The daemon and its control API: the process that runs the platform, the HTTP API over
``Backend``, its long operations and wire format, and ``LocalBackend``, its client."""
