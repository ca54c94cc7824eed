"""The Kubernetes API proxy: ``/api``, ``/apis``, ``/version``, ``/openapi`` to the upstream."""
