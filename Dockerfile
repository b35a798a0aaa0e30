# syntax=docker/dockerfile:1
# Diario Online: build the binary, then a small non-root runtime image.
#   docker build -t diario .
#   docker run -p 8080:8080 -v diario-data:/var/lib/diario \
#     -e DIARIO_OIDC_ISSUER=… -e DIARIO_JWT_AUDIENCE=… diario
# Secrets: mount them as files and point the *_FILE variables at them
# (DIARIO_JWT_SECRET_FILE=/run/secrets/jwt-secret).

FROM rust:1.95-slim-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends pkg-config libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p diario-api --bin diario

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/diario --create-home --shell /usr/sbin/nologin diario
COPY --from=build /src/target/release/diario /usr/local/bin/diario
USER 10001:10001
WORKDIR /var/lib/diario
ENV DIARIO_ADDR=0.0.0.0:8080 \
    DATABASE_URL=sqlite:///var/lib/diario/diario.db \
    DIARIO_LOG_FORMAT=json
EXPOSE 8080
VOLUME ["/var/lib/diario"]
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/readyz >/dev/null || exit 1
ENTRYPOINT ["/usr/local/bin/diario"]
CMD ["serve"]
