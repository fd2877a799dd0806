# Builds the `sigma` binary for compose.yaml, with the dashboard's page embedded.
FROM node:20-bookworm AS dashboard
WORKDIR /src/dashboard/web
COPY dashboard/web/ .
RUN npm install --no-audit --no-fund && npm run build

FROM rust:1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends cmake libcurl4-openssl-dev libssl-dev zlib1g-dev libsasl2-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
COPY --from=dashboard /src/dashboard/web/dist dashboard/web/dist
RUN cargo build --release --bin sigma

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates ffmpeg libcurl4 libssl3 libsasl2-2 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/sigma /usr/local/bin/sigma
ENV SIGMA_HTTP_ADDR=0.0.0.0:8080 SIGMA_RTMP_ADDR=0.0.0.0:1935 SIGMA_DATA_DIR=/data
EXPOSE 8080 1935
ENTRYPOINT ["sigma"]
CMD ["run"]
