FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
LABEL org.opencontainers.image.title="newsbot" \
      org.opencontainers.image.description="Self-hosted news alerts: RSS/Atom feeds matched against watch rules, sent to Telegram and Slack" \
      org.opencontainers.image.licenses="MIT"
WORKDIR /app
# NEWSBOT_HEALTH_LISTEN: health.listen's default here, so the port can be published; a
# config file that sets health.listen wins, and `newsbot health` follows either.
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 NEWSBOT_HEALTH_LISTEN=0.0.0.0:8080
COPY --from=build /wheels /wheels
# A numeric uid, so a host or an orchestrator can tell the user is not root; 1000 is the
# uid that owns the files of existing data volumes.
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels \
    && useradd --create-home --uid 1000 newsbot && mkdir -p /app/data && chown newsbot /app/data
USER 1000
VOLUME ["/app/data"]
EXPOSE 8080 3000 8443
# Probes /healthz at the address the config gives (health.listen); with the endpoint off
# it reports healthy while the process runs. Use NEWSBOT_CONFIG rather than --config so
# the probe reads the same file as the service.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 CMD ["newsbot", "health"]
ENTRYPOINT ["newsbot"]
CMD ["run"]
