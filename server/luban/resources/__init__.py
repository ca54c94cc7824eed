"""The dynamic Resource API: any served resource, from watch-fed caches, with rich queries."""

from luban.resources.api import ResourceAPI
from luban.resources.authz import Authorizer
from luban.resources.manager import CacheManager

__all__ = ["Authorizer", "CacheManager", "ResourceAPI"]
