"""Authentication and RBAC authorization of the embedded cluster, like the real API server's.

- ``authn``: who the caller is (admin token, static token file, ServiceAccount JWTs).
- ``rbac``: what they may do (Roles/ClusterRoles and bindings, indexed in memory).
- ``gate``: the per-request check (authentication, impersonation, authorization).
- ``reviews``: TokenRequest, TokenReview, SelfSubjectReview and the access reviews.
"""
