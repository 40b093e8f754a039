# SPDX-License-Identifier: Apache-2.0
# The servo's container image. scripts/image.sh builds it offline (it makes the two Debian base
# images from the Debian mirror when they are missing); any builder with access to Docker Hub
# builds it as it is:  podman build -t servo .   or   docker build -t servo .
#
# Stage 1 builds on debian:bookworm with the build dependencies of debian/control, installs
# into /out, and lists the runtime packages that dpkg-shlibdeps computes from the installed ELF
# files (the servo and its internal modules). Stage 2 installs exactly those packages into
# debian:bookworm-slim and copies the servo in. No HEALTHCHECK: Kubernetes probes are in the
# manifests (deploy/).

ARG DEBIAN_IMAGE=docker.io/library/debian

FROM ${DEBIAN_IMAGE}:bookworm AS build
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR /src
# The build dependencies come from debian/control alone, so the image and the package agree.
COPY debian/control debian/changelog debian/
RUN apt-get update \
 && apt-get build-dep -y --no-install-recommends ./ \
 && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
          -DSERVO_TESTS=OFF -DSERVO_BENCH=OFF \
 && cmake --build /build -j "$(nproc)" \
 && DESTDIR=/out cmake --install /build --strip \
 && rm -rf /out/usr/include /out/usr/lib/*/pkgconfig /out/usr/share
# "shlibs:Depends=libc6 (>= 2.34), libcurl4 (>= 7.16.2), ..." becomes one package name a line
# (the first of any alternatives; the versions are those of the same bookworm mirror).
RUN find /out -type f \( -perm -u+x -o -name '*.so*' \) -exec sh -c \
        'head -c 4 "$1" | grep -q ELF' sh {} \; -print >/tmp/elf-files \
 && test -s /tmp/elf-files \
 && dpkg-shlibdeps -O $(sed 's/^/-e/' /tmp/elf-files) \
  | sed -e 's/^shlibs:Depends=//' -e 's/([^)]*)//g' -e 's/|[^,]*//g' \
  | tr ',' '\n' | tr -d ' ' | grep . | sort -u >/runtime-packages \
 && echo "runtime packages:" $(cat /runtime-packages)

FROM ${DEBIAN_IMAGE}:bookworm-slim
ARG VERSION=unknown
ARG REVISION=unknown
ARG SOURCE=https://github.com/opsani/servox
ARG SERVO_UID=10001
LABEL org.opencontainers.image.title="servo" \
      org.opencontainers.image.description="Continuous optimization agent: a C implementation of Opsani ServoX" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.url="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/debian:bookworm-slim"
COPY --from=build /runtime-packages /usr/share/servo/runtime-packages
# ca-certificates: the trust store for HTTPS (the optimizer, Prometheus), data no ELF file
# names; libcurl4 only recommends it.
RUN apt-get update \
 && xargs -a /usr/share/servo/runtime-packages apt-get install -y --no-install-recommends \
        ca-certificates \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb \
           /var/cache/debconf/*-old \
           /var/lib/dpkg/*-old /var/log/apt /var/log/dpkg.log \
 && groupadd --system --gid "${SERVO_UID}" servo \
 && useradd --system --uid "${SERVO_UID}" --gid servo --home-dir /servo --create-home \
            --shell /usr/sbin/nologin servo
COPY --from=build /out/ /
USER ${SERVO_UID}:${SERVO_UID}
WORKDIR /servo
ENTRYPOINT ["servo"]
CMD ["--help"]
