# Two images from one build. The default (last) target is dsr for production
# (dsr worker, dsr api, dsr migrate, dsr user), built with -tags lean: without
# dsr dev's embedded Temporal server, UI and PostgreSQL it is about 21 MB
# instead of 159 MB. The temporal target is the full build, for compose's
# Temporal server (dsr temporal-server).
# dsr dev is for a developer's machine and is not meant to run in a container.

FROM golang:1.26.8-bookworm AS build
ENV GOTOOLCHAIN=local CGO_ENABLED=0
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -trimpath -tags lean -ldflags="-s -w" -o /out/dsr . && \
    go build -trimpath -ldflags="-s -w" -o /out/dsr-full .

# Static binaries (pure-Go SQLite and PostgreSQL drivers): no libc, no shell.
FROM gcr.io/distroless/static-debian12:nonroot AS temporal
COPY --from=build /out/dsr-full /usr/local/bin/dsr
USER nonroot:nonroot
EXPOSE 7233
ENTRYPOINT ["/usr/local/bin/dsr"]
CMD ["temporal-server"]

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/dsr /usr/local/bin/dsr
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/dsr"]
CMD ["api"]
