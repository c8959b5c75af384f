# Production image. Migrations are a separate step:
#   docker run --rm -e PLANGATE_DATABASE_URL=... plangate plangate migrate
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY api ./api
COPY domain ./domain
COPY integrations ./integrations
RUN python -m venv /opt/venv && /opt/venv/bin/pip install .

FROM python:3.11-slim
RUN groupadd --system plangate && useradd --system --gid plangate --home-dir /app plangate
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PLANGATE_HOST=0.0.0.0 PLANGATE_PORT=8000
WORKDIR /app
RUN chown plangate:plangate /app
USER plangate
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
  CMD python -c "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"
CMD ["plangate", "serve"]
