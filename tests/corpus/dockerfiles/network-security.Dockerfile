# syntax=docker/dockerfile:1-labs
FROM alpine
RUN --network=none echo offline
RUN --network=host wget -q http://localhost:8080/
RUN --network=default apk add curl
RUN --security=insecure mount -t tmpfs none /mnt
RUN --security=sandbox echo ok
