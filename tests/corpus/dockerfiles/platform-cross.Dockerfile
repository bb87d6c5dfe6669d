# syntax=docker/dockerfile:1
FROM --platform=$BUILDPLATFORM tonistiigi/xx AS xx
FROM --platform=$BUILDPLATFORM golang:1.22-alpine AS build
COPY --from=xx / /
ARG TARGETPLATFORM
ARG BUILDPLATFORM
RUN echo "building on $BUILDPLATFORM for $TARGETPLATFORM"
RUN xx-go build -o /out/app . && xx-verify /out/app
FROM --platform=$TARGETPLATFORM alpine AS runtime
COPY --from=build /out/app /usr/bin/app
ENTRYPOINT ["app"]
