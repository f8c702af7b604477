# One image for the three services; docker-compose.yml picks the command.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY packages packages
COPY services services
COPY tools tools
RUN pip install --no-compile . && useradd --system --uid 10001 dossier
USER dossier
EXPOSE 8001 8002 8003
CMD ["dossier-intake"]
