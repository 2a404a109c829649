"""The Docker engine and the project's local images: bring-up and idempotent builds."""
