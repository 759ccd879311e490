# ctwatch as a service: `ctwatch run` with the database on a volume.
#   docker build -t ctwatch .
#   docker run -d --name ctwatch -v ctwatch-data:/data \
#     -v "$PWD/config:/config:ro" -e SLACK_BOT_TOKEN ctwatch
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CTWATCH_CONFIG=/config/ctwatch.toml

RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin ctwatch \
    && mkdir -p /data /config \
    && chown ctwatch:ctwatch /data

WORKDIR /src
COPY pyproject.toml README.md ./
COPY watcher ./watcher
RUN pip install . && rm -rf /src

# The example config resolves database.path = "../data/ctwatch.db" to /data/ctwatch.db.
COPY config/ctwatch.toml /config/ctwatch.toml

VOLUME /data
WORKDIR /data
USER ctwatch

HEALTHCHECK --interval=5m --timeout=30s --start-period=2m --retries=3 \
    CMD ["ctwatch", "health"]

ENTRYPOINT ["ctwatch"]
CMD ["run"]
