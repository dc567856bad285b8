"""The FastAPI ingress: validates intents, assigns request IDs, publishes to Kafka, answers 202."""
