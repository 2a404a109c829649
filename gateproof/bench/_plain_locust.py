"""The baseline of `gateproof bench load`: plain Locust, a FastHttpUser posting to echo."""

from locust import FastHttpUser, task

PATH = "/2015-03-31/functions/function/invocations"
BODY = b'{"message": "hello"}'
HEADERS = {"Content-Type": "application/json"}


class PlainUser(FastHttpUser):
    @task
    def echo(self) -> None:
        self.client.post(PATH, data=BODY, headers=HEADERS)
