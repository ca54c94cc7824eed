"""Per-route rate limiting on aiolimiter: policies, the request stage and hot reload.

:class:`luban.ratelimit.limits.RateLimits` is the engine (config policies plus extension route
defaults); :class:`luban.ratelimit.middleware.RateLimitMiddleware` is the pipeline stage.
"""
