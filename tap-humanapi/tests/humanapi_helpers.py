"""A small fake Human API on requests-mock, for the edge cases of the unit tests."""

from __future__ import annotations

import json
import re
import typing as t
from urllib.parse import parse_qs, urlparse

AUTH = "https://auth.example.test"
ADMIN = "https://admin.example.test"
API = "https://api.example.test/v1/human"


class FakeHumanAPI:
    """Users with sources and records; counts every request by kind."""

    def __init__(self, requests_mock: t.Any, users: int = 3) -> None:
        self.users = [
            {
                "humanId": f"{i:024x}",
                "clientUserId": f"cu-{i}",
                "firstName": "Ann",
                "lastName": "Lee",
                "status": "active",
            }
            for i in range(1, users + 1)
        ]
        self.synched = {u["clientUserId"]: "2026-01-01T00:00:00.000Z" for u in self.users}
        self.records: dict[str, list[dict]] = {}
        self.sources: dict[str, list[dict]] = {}  # a user's /sources, if not the default
        self.refused: set[str] = set()
        self.calls: list[tuple[str, str]] = []
        self.token_of: dict[str, str] = {}
        self.reject_once: set[str] = set()
        m = requests_mock
        m.post(f"{AUTH}/v1/admin/token", json={"client_token": "app-tok", "expires_in": 3600})
        m.post(f"{AUTH}/v1/connect/token", json=self._user_token)
        m.get(re.compile(f"{ADMIN}/api/v1/users.*"), json=self._users)
        m.get(re.compile(f"{API}/.*"), json=self._data)

    def _user_token(self, request: t.Any, context: t.Any) -> dict:
        body = json.loads(request.body)
        self.calls.append(("token", body["client_user_id"]))
        if body["client_user_id"] in self.refused:
            context.status_code = 404
            return {"error": "user_not_found"}
        token = f"tok-{body['client_user_id']}-{len(self.calls)}"
        self.token_of[token] = body["client_user_id"]
        return {"access_token": token, "expires_in": 86400, "token_type": "Bearer"}

    def _users(self, request: t.Any, context: t.Any) -> list:
        offset = int(parse_qs(urlparse(request.url).query).get("offset", ["0"])[0])
        self.calls.append(("admin", str(offset)))
        return self.users[offset : offset + 2]

    def _data(self, request: t.Any, context: t.Any) -> t.Any:
        token = request.headers["Authorization"].removeprefix("Bearer ")
        user = self.token_of.get(token)
        path = urlparse(request.url).path.removeprefix("/v1/human")
        self.calls.append((path, str(user)))
        if user is None or (user in self.reject_once and not self.reject_once.remove(user)):
            context.status_code = 401
            return {"error": "invalid_token"}
        if path == "/sources":
            return self.sources.get(user) or [
                {
                    "id": "s1",
                    "source": "portal",
                    "syncStatus": {"status": "ok", "synchedAt": self.synched[user]},
                }
            ]
        rows = [r for r in self.records.get(path, []) if r["_user"] == user]
        if path == "/profile":  # the one object answer; every other type is a list
            if not rows:
                context.status_code = 404
                return {"error": "not_found"}
            return {k: v for k, v in rows[0].items() if k != "_user"}
        query = {k: v[0] for k, v in parse_qs(urlparse(request.url).query).items()}
        since = query.get("updated_since", "")
        rows = [r for r in rows if r["updatedAt"] >= since]
        offset, limit = int(query.get("offset", 0)), int(query.get("limit", 50))
        page = rows[offset : offset + limit]
        context.headers["X-Total-Count"] = str(len(rows))
        if offset + limit < len(rows):
            context.headers["Link"] = (
                f"<{API}{path}?limit={limit}&offset={offset + limit}>; "
                f'rel="next",<{API}{path}?offset=0>; rel="prev"'
            )
        return [{k: v for k, v in r.items() if k != "_user"} for r in page]

    def serve(self, path: str, user: str, record: dict) -> None:
        """Serve ``record`` (as given) to ``user`` at ``path``."""
        self.records.setdefault(path, []).append({"_user": user, **record})

    def add(self, path: str, user: str, n: int, updated: str = "2025-12-31T00:00:00.000Z") -> None:
        for _ in range(n):
            rows = self.records.setdefault(path, [])
            rows.append(
                {
                    "_user": user,
                    "id": f"{len(rows):024x}",
                    "updatedAt": updated,
                    "createdAt": updated,
                    "name": "Peanut allergy",
                }
            )

    def count(self, kind: str) -> int:
        return sum(1 for k, _ in self.calls if k == kind)

    def data_calls(self) -> list[tuple[str, str]]:
        return [c for c in self.calls if c[0] not in {"token", "admin", "/sources"}]
