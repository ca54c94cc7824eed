# syntax=docker/dockerfile:1
# Build: docker build -t luban .      Run: docker run -p 9443:9443 luban

FROM python:3.12-slim AS build
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PROJECT_ENVIRONMENT=/opt/luban
RUN pip install --no-cache-dir uv
WORKDIR /src
# Dependencies first, from the lock file only, so source edits don't invalidate this layer.
COPY pyproject.toml uv.lock README.md ./
COPY sdk/pyproject.toml sdk/pyproject.toml
COPY plugins/hello/pyproject.toml plugins/hello/pyproject.toml
RUN uv sync --frozen --no-dev --group plugins --no-install-workspace
COPY server server
COPY sdk sdk
COPY plugins plugins
RUN uv sync --frozen --no-dev --group plugins --no-editable

FROM python:3.12-slim
RUN useradd --system --uid 10001 --home-dir /var/lib/luban --create-home luban
COPY --from=build /opt/luban /opt/luban
COPY config/luban.container.yaml /etc/luban/luban.yaml
ENV PATH=/opt/luban/bin:$PATH PYTHONUNBUFFERED=1
USER 10001
WORKDIR /var/lib/luban
EXPOSE 9443
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import ssl,urllib.request as u; c=ssl.create_default_context(); c.check_hostname=False; c.verify_mode=ssl.CERT_NONE; u.urlopen('https://127.0.0.1:9443/livez', timeout=2, context=c)"]
ENTRYPOINT ["luban", "serve", "--config", "/etc/luban/luban.yaml"]
