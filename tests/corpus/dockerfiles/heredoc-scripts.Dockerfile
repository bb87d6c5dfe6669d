# syntax=docker/dockerfile:1.7
FROM debian:bookworm-slim
RUN <<EOF
set -eux
apt-get update
apt-get install -y --no-install-recommends curl ca-certificates
rm -rf /var/lib/apt/lists/*
EOF
RUN <<EOT bash
  set -euo pipefail
  echo "running in bash: $BASH_VERSION"
EOT
RUN python3 <<PY
print("hello from python")
PY
COPY <<-"EOF" /etc/motd
	Welcome to $HOSTNAME (not expanded)
	EOF
COPY <<EOF /usr/local/bin/entry.sh
#!/bin/sh
exec "\$@"
EOF
RUN <<A cat > /a && <<B cat > /b
first file
A
second file
B
RUN chmod +x /usr/local/bin/entry.sh
ENTRYPOINT ["/usr/local/bin/entry.sh"]
