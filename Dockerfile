# ebb's images. `docker build -t ghcr.io/ebbscale/ebb .` builds the server
# (which is also the model-data init container: `ebb fetch-model`);
# `docker build --target example-model -t ebb-example-model .` builds the
# example model as a SageMaker container (`docker run IMAGE serve`).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Static (no cgo, -tags nonvml: no NVML, which needs the dynamic loader): GPU
# metrics in a cluster come from the DCGM exporter. Offline: scripts/docker-images.
RUN CGO_ENABLED=0 go build -tags nonvml -trimpath -ldflags=-s -o /out/ebb ./cmd/ebb

FROM gcr.io/distroless/static-debian12:nonroot AS server
COPY --from=build /out/ebb /usr/local/bin/ebb
ENTRYPOINT ["/usr/local/bin/ebb"]

FROM gcr.io/distroless/static-debian12:nonroot AS example-model
COPY --from=build /out/ebb /usr/local/bin/ebb
# In a container the contract's port must be reachable from outside it.
ENV SAGEMAKER_BIND_TO_HOST=0.0.0.0 SAGEMAKER_BIND_TO_PORT=8080
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/ebb", "example-model"]

FROM server
