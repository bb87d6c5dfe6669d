FROM ubuntu:22.04
MAINTAINER Jane Doe <jane@example.com>
ENV DEBIAN_FRONTEND noninteractive
RUN apt-get update && apt-get install -y \
    build-essential \
    curl \
  && rm -rf /var/lib/apt/lists/*
ADD app.tar.gz /opt/
EXPOSE 8080 8443/tcp 9000-9010/udp
VOLUME ["/data", "/logs"]
USER nobody:nogroup
CMD /opt/app/run.sh --foreground
