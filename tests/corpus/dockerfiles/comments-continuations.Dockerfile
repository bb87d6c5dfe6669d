# A comment at the top is not a directive when it is not key=value
FROM alpine
    # indented comment
RUN apk add --no-cache \
  # inline comment inside a continuation
  curl \
  # another
  jq
	RUN echo "leading tab before instruction"
RUN echo "escaped backslash at end is not continuation \\" && true
