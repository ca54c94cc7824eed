"""The embedded cluster: a Kubernetes-compatible API server backed by SQLite."""
