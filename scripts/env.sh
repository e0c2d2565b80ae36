# Where the components find the infrastructure (components/*.yaml read these through envRef).
# Sourced by scripts/run.sh and the e2e tests; docker-compose.yml sets its own values.
export SHOP_RABBITMQ_URL=${SHOP_RABBITMQ_URL:-amqp://guest:guest@127.0.0.1:5672}
export SHOP_REDIS_HOST=${SHOP_REDIS_HOST:-127.0.0.1:6379}
export SHOP_MQTT_URL=${SHOP_MQTT_URL:-tcp://127.0.0.1:1883}
export SHOP_NATS_URL=${SHOP_NATS_URL:-nats://127.0.0.1:4222}
export SHOP_KAFKA_BROKERS=${SHOP_KAFKA_BROKERS:-127.0.0.1:9092}
