FROM alpine:3.19
ARG VERSION=dev
ARG REVISION
ARG CREATED
LABEL org.opencontainers.image.title="mason-example" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision=$REVISION \
      org.opencontainers.image.created=${CREATED:-unknown} \
      "com.example.quoted key"="value with spaces" \
      com.example.escaped=a\ b
LABEL description="Multi-line \
description"
