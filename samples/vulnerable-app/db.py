"""User lookups. Intentionally insecure: see README.md."""

from __future__ import annotations

import sqlite3

DATABASE = "users.sqlite3"


def find_user(name):
    connection = sqlite3.connect(DATABASE)
    cursor = connection.cursor()
    # SQL injection: the name is pasted into the statement.
    cursor.execute("SELECT id, name, password_md5 FROM users WHERE name = '" + name + "'")
    row = cursor.fetchone()
    connection.close()
    if row is None:
        return None
    return {"id": row[0], "name": row[1], "password_md5": row[2]}


def search_users(term):
    connection = sqlite3.connect(DATABASE)
    query = f"SELECT id, name FROM users WHERE name LIKE '%{term}%'"
    return connection.execute(query).fetchall()
