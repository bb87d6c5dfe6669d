ARG BASE_IMAGE=busybox
ARG TAG=latest
FROM ${BASE_IMAGE}:${TAG} AS one
ARG TAG
ARG EXTRA=default
ENV TAG_ENV=${TAG} EXTRA_ENV=$EXTRA
RUN echo "$TAG $EXTRA"
FROM one AS two
ENV EXTRA=from-env
ARG EXTRA=ignored-because-env-wins
RUN echo $EXTRA
