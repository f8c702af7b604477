# One image for the three services; docker-compose.yml picks the command. Everything installed comes from
# the lock files: requirements-uv.txt (uv, with hashes) and uv.lock (the services, with hashes). The
# simulator, the benchmarks' packages and the dev tools are not installed.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    UV_PYTHON=python3.11 UV_PYTHON_DOWNLOADS=never UV_NO_CACHE=1 UV_PROJECT_ENVIRONMENT=/opt/dossier
WORKDIR /app
COPY requirements-uv.txt ./
RUN pip install --only-binary :all: --require-hashes -r requirements-uv.txt
COPY pyproject.toml uv.lock ./
COPY packages packages
COPY services services
COPY tools tools
RUN uv sync --locked --no-default-groups --no-editable \
      --package dossier-intake --package dossier-processing --package dossier-metrics \
    && pip uninstall -y -q uv \
    && useradd --system --uid 10001 dossier
ENV PATH=/opt/dossier/bin:$PATH
USER dossier
EXPOSE 8001 8002 8003
CMD ["dossier-intake"]
