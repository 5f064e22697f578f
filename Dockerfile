# syntax=docker/dockerfile:1
#
# hsradius: radiusd (the RADIUS server) and hsctl (the admin CLI) as static
# binaries in a distroless, non-root image. Build from the repository root:
#
#   docker build -t hsradius .
#
# The image reads /etc/hsradius/radiusd.yaml: mount one (read-only), and give
# the secrets it names by environment variable. In a container the file must
# listen on every address (":1812", i.e. 0.0.0.0 and [::]), not on the
# default 127.0.0.1. A complete example: cmd/radiusd/packaging/
# (docker-compose.yml, radiusd.container.yaml, env.example).

FROM golang:1.26-bookworm AS build
WORKDIR /src
# Modules first, so this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# CGO_ENABLED=0: fully static binaries, the final image has no libc.
# -o /out/ (a directory): with two main packages and no -o, go build writes
# nothing.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/ ./cmd/radiusd ./cmd/hsctl

# static-debian12 carries CA certificates (Redis TLS against public roots),
# tzdata and /etc/passwd, and nothing else: no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/radiusd /out/hsctl /usr/local/bin/
# 65532 is distroless's "nonroot" user. Numeric, so that a runtime can check
# it is not root (Kubernetes runAsNonRoot). The RADIUS ports are above 1024:
# no capability is needed.
USER 65532:65532
# RADIUS authentication and accounting (UDP), and the admin HTTP listener.
EXPOSE 1812/udp 1813/udp 2083/tcp 9812/tcp
ENTRYPOINT ["/usr/local/bin/radiusd", "-config", "/etc/hsradius/radiusd.yaml"]
