# mason's own image, for CI jobs: `image: <this>` in place of gcr.io/kaniko-project/executor.
#
#   mason build --context . --destination registry.example.com/mason:0.1 \
#       --build-arg BASE=docker.io/library/python:3.11-slim-bookworm
#
# Everything mason needs lives under /mason (a CPython runtime, mason, its dependencies), so a
# build never collides with mason's own files. /kaniko/executor and /kaniko/.docker exist for
# pipelines written for Kaniko; DOCKER_CONFIG points there, as in Kaniko's image.
#
# BASE must have CPython >= 3.11 installed under /usr/local with pip
# (the official python:3.11-*-bookworm images); its prefix is copied to /mason, and the final
# image is BASE again (C libraries, CA certificates, a shell for `script:` lines).
# PIP_OPTIONS is passed to pip (e.g. --no-index --find-links=... for offline builds), and
# MASON_SPEC names what pip installs (default: this source tree; or a wheel in the context).
ARG BASE=docker.io/library/python:3.11-slim-bookworm

FROM ${BASE} AS build
ARG PIP_OPTIONS=
ARG MASON_SPEC=/mason-src
# .dockerignore keeps only pyproject.toml, README.md, src/, ci/image/ and dist/ (prebuilt wheels).
COPY . /mason-src
# Copy the interpreter's whole prefix: python finds its stdlib relative to its own path, so
# /mason/bin/python3 is a complete runtime that pip then installs mason and its deps into.
RUN mkdir -p /mason \
 && cp -a /usr/local/bin /usr/local/lib /mason/ \
 && LD_LIBRARY_PATH=/mason/lib /mason/bin/python3 -m pip install --no-cache-dir \
        --disable-pip-version-check --no-warn-script-location ${PIP_OPTIONS} ${MASON_SPEC} \
 && LD_LIBRARY_PATH=/mason/lib /mason/bin/mason version

FROM ${BASE}
COPY --from=build /mason /mason
COPY --chmod=0755 ci/image/executor /kaniko/executor
RUN mkdir -p /kaniko/.docker /workspace
ENV DOCKER_CONFIG=/kaniko/.docker \
    LD_LIBRARY_PATH=/mason/lib \
    PATH=/mason/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
WORKDIR /workspace
ENTRYPOINT ["/kaniko/executor"]
