FROM alpine
CMD ["echo", "unicode \u00e9 and escaped \"quotes\""]
ENTRYPOINT []
RUN [ "sh", "-c", "echo exec form with $HOME" ]
CMD [not json, so shell form]
