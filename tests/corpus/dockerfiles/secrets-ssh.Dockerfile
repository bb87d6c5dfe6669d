# syntax=docker/dockerfile:1
FROM alpine:3.19
RUN apk add --no-cache openssh-client git
RUN mkdir -p -m 0700 ~/.ssh && ssh-keyscan github.com >> ~/.ssh/known_hosts
RUN --mount=type=ssh git clone git@github.com:example/private.git /src
RUN --mount=type=secret,id=aws,target=/root/.aws/credentials \
    aws s3 cp s3://bucket/file /file
RUN --mount=type=secret,id=npmrc,required=true,mode=0400,uid=1000 cat /run/secrets/npmrc >/dev/null
RUN --mount=type=secret,id=API_TOKEN,env=API_TOKEN ./fetch.sh
RUN --mount=type=tmpfs,target=/tmp,size=128m --network=none ./offline-tests.sh
