# The Whistle image: every process (`whistle worker|projector|api|db migrate`) runs from it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    WHISTLE_STATE_DIR=/var/lib/whistle

WORKDIR /app
COPY pyproject.toml README.md ./
COPY whistle ./whistle
COPY streams ./streams
COPY projections ./projections
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /var/lib/whistle --create-home whistle

USER whistle
EXPOSE 8080 6066
CMD ["whistle", "--help"]
