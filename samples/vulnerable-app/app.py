"""A tiny "ops console" web handler layer. Intentionally insecure: see README.md."""

from __future__ import annotations

import hashlib
import pickle
import subprocess

import requests
import yaml
from config import ADMIN_PASSWORD, UPSTREAM_URL
from db import find_user


def ping(host):
    # Command injection: `host` comes straight from the query string.
    return subprocess.check_output("ping -c 1 " + host, shell=True)


def calculate(expression):
    # Code injection: the "calculator" evaluates whatever the user typed.
    return eval(expression)


def load_settings(text):
    # Arbitrary object construction: yaml.load without SafeLoader.
    return yaml.load(text)


def restore_session(blob):
    # Deserialising untrusted data.
    return pickle.loads(blob)


def fetch_upstream(path):
    # Certificate checks disabled: anyone on the path can read and change the traffic.
    return requests.get(UPSTREAM_URL + path, verify=False, timeout=10).text


def password_digest(password):
    # MD5 is not a password hash.
    return hashlib.md5(password.encode()).hexdigest()


def login(name, password):
    user = find_user(name)
    if user is None:
        return password == ADMIN_PASSWORD
    return user["password_md5"] == password_digest(password)


def handle(request):
    action = request.get("action")
    if action == "ping":
        return ping(request["host"])
    if action == "calc":
        return calculate(request["expression"])
    if action == "settings":
        return load_settings(request["body"])
    if action == "session":
        return restore_session(request["blob"])
    if action == "proxy":
        return fetch_upstream(request["path"])
    return None
