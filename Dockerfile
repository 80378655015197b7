# leadgate's production image: the `leadgate` command, run as an unprivileged user.
#   docker build -t leadgate .
#   docker run --rm leadgate run --role delivery      (see docker-compose.yml and docs/operations.md)

# Build a wheel in a throwaway stage, so the final image carries no build tooling or sources.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LEADGATE_STATE_DIR=/var/lib/leadgate \
    LEADGATE_LOG_FORMAT=json
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl \
 && rm -rf /wheels \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin leadgate \
 && mkdir -p /app /var/lib/leadgate \
 && chown leadgate:leadgate /var/lib/leadgate \
 && chmod 700 /var/lib/leadgate
WORKDIR /app
# The default preset; mount your own over /app/presets (they are re-read when they change).
COPY presets ./presets
USER leadgate
# The state store (profiles, seen messageIds, Outreach ids, OAuth tokens) lives here.
VOLUME ["/var/lib/leadgate"]
EXPOSE 8400
ENTRYPOINT ["leadgate"]
CMD ["run"]
