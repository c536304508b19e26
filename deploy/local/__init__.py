"""The local endpoint platform: Azure ML managed online endpoints on one machine.

A daemon (``flightdeck local up``) holds the state in ``$FLIGHTDECK_HOME``, runs
each deployment's instances as azmlinfsrv processes, and serves the scoring URIs
through a traffic-splitting router. ``LocalBackend`` is its control API's client.
"""
