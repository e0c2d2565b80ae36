# syntax=docker/dockerfile:1
# One image for every app (docker-compose.yml picks the module with `python -m services.<app>`).
# The base is pinned and replaceable: `--build-arg PYTHON_BASE=...` takes any Debian-like image,
# with Python 3.11 or without (bookworm's python3.11 is installed then; scripts/podman-images.sh
# builds on a local debootstrap base that way).
ARG PYTHON_BASE=python:3.11.14-slim-bookworm

FROM ${PYTHON_BASE} AS python
RUN if ! command -v python3 >/dev/null; then \
      apt-get update -q \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3 python3-venv \
      && rm -rf /var/lib/apt/lists/*; \
    fi

# The dependencies in a virtual environment: the runtime ones pyproject.toml declares (not the
# dev tools), at the versions requirements.lock pins.
FROM python AS build
WORKDIR /build
COPY pyproject.toml requirements.lock ./
RUN python3 -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" > runtime.txt \
    && python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check -q -c requirements.lock -r runtime.txt

FROM python
# The same uid as the daprd image, so both can read what the `secrets` service hands them.
RUN groupadd --system --gid 65532 shop && useradd --system --uid 65532 --gid shop --no-create-home shop
COPY --from=build /opt/venv /opt/venv
WORKDIR /shop
COPY services services
COPY scripts/provision_db.py scripts/
ENV PATH=/opt/venv/bin:$PATH SHOP_BIND_HOST=0.0.0.0 PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
USER shop
