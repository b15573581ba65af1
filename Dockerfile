# One image for every process of the bus: `exchange worker|desk|lag|simulate ...`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

# Dependencies first (cached layer), then the code.
COPY pyproject.toml setup.py README.md ./
COPY exchange ./exchange
COPY producers ./producers
COPY consumers ./consumers
COPY schemas ./schemas
# gcc builds the C part (exchange/worker/_record_codec.c), then leaves the image.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && pip install . "psycopg[binary]>=3.2,<4" \
    && apt-get purge -y gcc libc6-dev && apt-get autoremove -y && rm -rf /var/lib/apt/lists/*

# Settings come from EXCHANGE_* variables (exchange/settings.py); state lives in /data.
ENV EXCHANGE_SCHEMAS_DIR=/app/schemas EXCHANGE_DATA_DIR=/data
RUN useradd --create-home --uid 10001 exchange && mkdir -p /data && chown exchange /data
USER exchange
VOLUME ["/data"]

ENTRYPOINT ["exchange"]
CMD ["--help"]
