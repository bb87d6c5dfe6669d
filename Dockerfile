# mason's own image, for CI jobs: `image: <this>:debug` in place of
# gcr.io/kaniko-project/executor:debug (same paths, same variables; see docs/image.md).
#
#   mason build --context . --destination registry.example.com/mason:0.1            # executor
#   mason build --context . --target debug --destination registry.example.com/mason:0.1-debug
#
# The final image is FROM scratch: everything mason runs is under /kaniko (a CPython runtime
# whose programs load only the loader and libraries bundled next to them, mason and its
# dependencies, git, cp, mkfs.ext4, mount, slirp4netns for RUN's own network), so a build that replaces everything outside
# /kaniko cannot break mason. The `debug` target adds busybox at /busybox and /bin/sh.
#
# BASE is a Debian bookworm (or later) image; the packages below are installed with apt only
# when BASE lacks them (the tests' base has them all, so the build needs no network).
# PIP_OPTIONS and MASON_SPEC tell pip what to install: by default this source tree, with its
# dependencies from PyPI; offline, e.g. PIP_OPTIONS="--no-index --find-links=/mason-src/dist"
# and MASON_SPEC=mason for wheels placed in dist/.
ARG BASE=docker.io/library/debian:bookworm-slim

FROM ${BASE} AS collect
ARG PACKAGES="python3 python3-pip binutils libarchive13 git e2fsprogs mount coreutils ca-certificates patchelf busybox-static slirp4netns"
RUN missing=""; \
    for p in $PACKAGES; do \
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"; \
    done; \
    if [ -n "$missing" ]; then \
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing; \
    fi
ARG PIP_OPTIONS=
ARG MASON_SPEC=/mason-src
# .dockerignore sends only pyproject.toml, README.md, src/, ci/image/ and dist/.
COPY . /mason-src
RUN python3 -m pip install --no-cache-dir --disable-pip-version-check --no-warn-script-location \
        --break-system-packages --no-compile --target /mason-site ${PIP_OPTIONS} ${MASON_SPEC}
# The runtime under /kaniko, the launchers, and the few files the final image has elsewhere.
RUN sh /mason-src/ci/image/collect /kaniko /mason-site \
 && install -m 0755 /mason-src/ci/image/launcher /kaniko/executor \
 && install -m 0755 /mason-src/ci/image/launcher /kaniko/warmer \
 && install -d -m 1777 /kaniko/.docker \
 && chmod 1777 /kaniko/ssl/certs \
 && mkdir -p /image-root/etc /image-root/root /image-root/workspace /image-root/run \
 && install -d -m 1777 /image-root/tmp \
 && printf 'hosts: files dns\n' > /image-root/etc/nsswitch.conf \
 && mkdir -p /image-debug/busybox /image-debug/bin \
 && cp /bin/busybox /image-debug/busybox/busybox \
 && for applet in $(/bin/busybox --list); do \
        [ "$applet" = busybox ] || ln -s busybox "/image-debug/busybox/$applet"; \
    done \
 && ln -s /busybox/sh /image-debug/bin/sh \
 && /kaniko/executor version

FROM scratch AS executor
COPY --from=collect /image-root/ /
COPY --from=collect /kaniko /kaniko
ENV HOME=/root \
    USER=root \
    PATH=/usr/local/bin:/kaniko \
    SSL_CERT_DIR=/kaniko/ssl/certs \
    DOCKER_CONFIG=/kaniko/.docker/
WORKDIR /workspace
ENTRYPOINT ["/kaniko/executor"]

# Kaniko's :debug: a busybox shell for GitLab's before_script/script (`entrypoint: [""]`).
FROM executor AS debug
COPY --from=collect /image-debug/ /
ENV PATH=/usr/local/bin:/kaniko:/busybox

FROM executor
