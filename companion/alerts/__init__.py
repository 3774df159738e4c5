"""Alerts outside the browser: e-mail (SMTP), Chatwork and LINE (Messaging API).

`config` — the channels and which event kinds each receives, secrets encrypted at rest;
`channels` — one send per channel, its failures told apart in Japanese; `queue` — the durable
queue (sent once, retried with backoff); `service` — the feature (`setup(app)`) and its routes.
"""
