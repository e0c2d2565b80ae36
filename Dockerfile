# One image for every app (docker-compose.yml picks the module); the sidecars use daprio/daprd.
FROM python:3.11-slim
WORKDIR /shop
COPY requirements.lock .
RUN pip install --no-cache-dir -r requirements.lock
COPY services services
COPY scripts scripts
ENV SHOP_BIND_HOST=0.0.0.0 PYTHONUNBUFFERED=1
USER nobody
