FROM alpine
ARG PORT=8080
EXPOSE $PORT
EXPOSE 80/tcp 443/tcp 53/udp
EXPOSE 7000-7010
VOLUME /var/lib/a /var/lib/b
VOLUME ["/var/lib/c"]
