FROM alpine AS assets
RUN mkdir /assets && echo x > /assets/x
FROM alpine AS tools
RUN echo tool > /tool
FROM alpine
RUN --mount=type=bind,from=assets,source=/assets,target=/mnt/assets \
    --mount=type=bind,from=tools,source=/tool,target=/usr/local/bin/tool \
    cp -r /mnt/assets /srv/
RUN --mount=type=cache,target=/var/cache/apk,sharing=locked,id=apk-cache \
    apk add curl
RUN --mount=type=bind,from=busybox:1.36,source=/bin/busybox,target=/bb busybox true
