# The tradewire image: the `tradewire` command as its entrypoint, run by a user of its own.
#
#   docker build -t tradewire .
#   docker run -p 127.0.0.1:8000:8000 tradewire          # the embedded default: SQLite under /var/lib/tradewire
#   docker compose up                                     # PostgreSQL, Redis, one API process, N workers
#
# README.md, "Running with Docker Compose", says more. tests/unit/test_compose.py checks this file with
# .dockerignore and compose.yaml (make test, no docker needed).

ARG PYTHON_IMAGE=python:3.11-slim
ARG NODE_IMAGE=node:20-slim

# The dashboard's chart library, as `make web` does: npm ci from web/package-lock.json, then its one
# standalone file copied into the package (src/tradewire/web/vendor is git-ignored).
FROM ${NODE_IMAGE} AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error

# tradewire and its dependencies in a virtual environment, as `make install` does, but neither
# editable nor with the dev extras. The dependencies are a layer of their own, rebuilt only when
# pyproject.toml changes.
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/tradewire && /opt/tradewire/bin/python -m pip install --quiet --upgrade pip
WORKDIR /build
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
      > requirements.txt \
 && /opt/tradewire/bin/pip install --quiet -r requirements.txt
COPY README.md ./
COPY src ./src
COPY --from=web /web/node_modules/lightweight-charts/dist/lightweight-charts.standalone.production.mjs \
     src/tradewire/web/vendor/lightweight-charts.mjs
RUN /opt/tradewire/bin/pip install --quiet --no-deps . \
 && /opt/tradewire/bin/python -c "import importlib.resources as r; assert (r.files('tradewire') / 'web/vendor/lightweight-charts.mjs').is_file()" \
 && /opt/tradewire/bin/tradewire --help > /dev/null

FROM ${PYTHON_IMAGE}
# lightgbm's wheel needs the OpenMP runtime; `tradewire db backup` / `restore` on PostgreSQL need
# pg_dump and pg_restore (the base image's Debian release has those of PostgreSQL 15, compose.yaml's
# server: pg_dump refuses a newer server, and the backup says so). Debian's security updates come
# with them, so their versions are left to the base image's release.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 postgresql-client \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 tradewire \
 && useradd --system --uid 10001 --gid tradewire --create-home --home-dir /var/lib/tradewire \
      --shell /usr/sbin/nologin tradewire \
 && install -d -o tradewire -g tradewire -m 0700 /var/lib/tradewire/var
COPY --from=build /opt/tradewire /opt/tradewire
ENV PATH=/opt/tradewire/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TRADEWIRE_VAR_DIR=/var/lib/tradewire/var
USER 10001:10001
WORKDIR /var/lib/tradewire
EXPOSE 8000
ENTRYPOINT ["tradewire"]
CMD ["serve", "--host", "0.0.0.0"]
