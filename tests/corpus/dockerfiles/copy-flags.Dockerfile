# syntax=docker/dockerfile:1.7-labs
FROM alpine:3.19 AS src
RUN mkdir -p /out && echo hi > /out/a.txt
FROM scratch
COPY --link --from=src /out/ /data/
COPY --chown=1000:1000 --chmod=644 config.yaml /etc/app/
COPY --chmod=u+rwx,g+rx,o+rx script.sh /usr/local/bin/
COPY --parents ./src/**/*.go /build/
COPY --exclude=*.md --exclude=docs/ . /app/
ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d https://example.com/archive.tar.gz /tmp/
ADD --keep-git-dir=true https://github.com/moby/buildkit.git#v0.13.0 /buildkit
ADD --unpack=true https://example.com/archive.tar.gz /opt/
ADD --link --chown=app rootfs.tar.xz /
COPY ["file with spaces.txt", "/dest dir/"]
