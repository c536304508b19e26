"""The scoring URIs: the router, the routes the platform hands it, their compiled form, and
the keep-alive client to the instances."""
