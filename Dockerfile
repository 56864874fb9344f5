# The dsr binary for production (dsr worker, dsr api, dsr migrate, dsr user).
# dsr dev is for a developer's machine and is not meant to run in a container.

FROM golang:1.26.8-bookworm AS build
ENV GOTOOLCHAIN=local CGO_ENABLED=0
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -trimpath -ldflags="-s -w" -o /out/dsr .

# Static binary (pure-Go SQLite and PostgreSQL drivers): no libc, no shell.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/dsr /usr/local/bin/dsr
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/dsr"]
CMD ["api"]
