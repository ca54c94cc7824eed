"""Kubernetes API machinery shared by the kernel and the embedded cluster.

Selectors, patches, validation, protobuf decoding: what both sides of Luban need to
behave like the real API server.
"""
