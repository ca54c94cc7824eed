"""Authentication and authorization: who the caller is and what they may do."""
