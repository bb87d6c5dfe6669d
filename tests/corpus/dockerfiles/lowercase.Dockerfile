from alpine:3.19 as base
run apk add --no-cache bash
workdir /app
copy . .
cmd ["bash"]
