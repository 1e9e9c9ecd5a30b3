"""A receiver that answers 200 and does nothing: the floor for the submit-latency benchmark."""

from flask import Flask

app = Flask(__name__)


@app.post("/webhooks/label-studio")
def receive():  # type: ignore[no-untyped-def]
    return "", 200
