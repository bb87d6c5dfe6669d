FROM nginx:1.25-alpine
RUN apk add --no-cache curl
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --start-interval=2s --retries=3 \
  CMD curl -fsS http://localhost/ || exit 1
FROM nginx:1.25-alpine AS nocheck
HEALTHCHECK NONE
FROM alpine AS jsoncheck
HEALTHCHECK --interval=1m CMD ["wget", "-q", "-O-", "http://localhost:8080/health"]
