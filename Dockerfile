# ultra for CPUs: the one-machine experiment and the cluster sweep units.
#
#   docker build -t ultra .
#   docker run --rm -v "$PWD/runs:/runs" ultra experiment --env hopper --out /runs/hopper
#
# Metrics: ULTRA_METRICS_ADDR=:9464 makes /metrics listen on every interface
# of the container (publish 9464, or let Prometheus scrape the pod);
# --metrics-addr overrides it. Runs as an unprivileged user with /runs as
# the volume for run directories. The Go build is scripts/build-image-binary.sh,
# which CI runs on the host (no Docker engine there).
ARG GO_VERSION=1.26

FROM golang:${GO_VERSION}-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libmujoco-dev libopenblas-dev libosmesa6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# render: MuJoCo's offscreen renderer through OSMesa, for `ultra video`.
ARG GO_TAGS=render
RUN bash scripts/build-image-binary.sh /out "${GO_TAGS}"

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libmujoco2.2.2 libopenblas0 libosmesa6 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 ultra && mkdir -p /runs && chown ultra /runs
COPY --from=build /out/ultra /usr/local/bin/ultra
USER ultra
WORKDIR /runs
VOLUME ["/runs"]
ENV ULTRA_METRICS_ADDR=:9464
EXPOSE 9464
ENTRYPOINT ["ultra"]
