"""Per-user work: the roster, change detection, one concurrent pass, and the markers.

Change detection follows Human API's continuous-sync guide. For each user the tap
mints a token and reads ``/sources``; only if a source's ``syncStatus.synchedAt``
is newer than the one recorded when the user was last read completely does it read
the user's data endpoints, with ``updated_since`` = that previous ``synchedAt``
minus ``lookback_minutes``. Both times are on Human API's clock; the local clock is
never compared with them.

Each user is one task on a bounded pool: token, sources, every selected endpoint,
then ``/sources`` once more. The main thread collects the tasks in roster order and
spools each stream's records to a temporary file, so memory stays bounded and the
output does not depend on the number of workers; the SDK then emits each stream
from its spool. A user's new ``synchedAt`` becomes a marker only when all of the
user's endpoints were read and the second ``/sources`` shows no newer sync (a sync
landing while the tap pages could shift records between offset pages; such a user
is read again next run). Markers enter the state only after the last per-user stream
has written its records, so a run killed at any point leaves the old markers.

While the pass runs, a progress line counts the users done (every tenth of them, or
every 30 s); the run summary counts them by outcome. Neither names a user.
"""

from __future__ import annotations

import hashlib
import itertools
import typing as t
from collections import Counter, deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tapkit.auth import TokenCache
from tapkit.errors import describe_response, path_of
from tapkit.spool import Spool
from tapkit.summary import PROGRESS_INTERVAL_SECONDS, Progress
from tapkit.times import parse_time

from tap_humanapi.auth import Minter, TokenRefused
from tap_humanapi.errors import HumanAPIError, UserFailure

if t.TYPE_CHECKING:
    import logging
    from collections.abc import Callable, Iterable, Iterator, Mapping

    from tap_humanapi.transport import Reply, Transport

T = t.TypeVar("T")
R = t.TypeVar("R")

ADMIN_USERS_PATH = "/api/v1/users"
# The stream whose state holds the per-user markers: humanIds and Human API times only.
MARKERS_STREAM = "user_sync_status"
REAUTH_DETAIL = "reauthenticationRequired"
# What the check of one user found (user_sync_status.outcome), in the run summary's order.
OUTCOMES = ("unchanged", "synced", "token_rejected", "needs_reauth", "error")
# Keys every object of an answer must hold as a non-empty string, and what they are.
# human_id, the rest of each primary key, is the tap's; /profile's key is it alone.
SOURCE_KEYS = {"id": "part of its primary key", "source": "part of its primary key"}
RECORD_KEYS = {"id": "part of its primary key", "updatedAt": "its replication key"}


@dataclass(frozen=True, slots=True)
class HumanUser:
    """A user's ids: Human API's and the app's own."""

    human_id: str
    client_user_id: str


@dataclass(frozen=True, slots=True)
class EndpointSpec:
    """A per-user data endpoint: stream name, path, and whether it answers one object.

    Only ``/profile`` does; every other endpoint (``/medical/demographics`` included)
    answers a list, read page by page.
    """

    name: str
    path: str
    single: bool


@dataclass
class UserCheck:
    """What the sources of one user said at the start of the run."""

    user: HumanUser
    checked_at: str
    outcome: str = "unchanged"
    detail: str | None = None
    sources: list[dict] = field(default_factory=list)
    synched_at: datetime | None = None
    read_data: bool = False
    updated_since: datetime | None = None
    new_marker: str | None = None
    # Only the endpoints the notifications named were read: the marker stays.
    partial: bool = False


def check_keys(what: str, noun: str, objects: list[dict], keys: Mapping[str, str]) -> None:
    """Every object holds each key as a non-empty string, or HumanAPIError naming it.

    The message names the call and the key, never a value (it may be patient data).
    """
    for key, role in keys.items():
        if not all(isinstance(o.get(key), str) and o[key] for o in objects):
            msg = f"{what} answered a {noun} without a string '{key}' ({role})"
            raise HumanAPIError(msg)


def format_time(value: datetime) -> str:
    """Human API's format: ISO-8601 UTC with milliseconds and Z."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def in_shard(client_user_id: str, shard_count: int, shard_index: int) -> bool:
    """A stable hash of the client user id picks the shard (the same on every machine)."""
    digest = hashlib.sha256(client_user_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") % shard_count == shard_index


def ordered(
    executor: ThreadPoolExecutor, work: Callable[[T], R], items: Iterable[T], window: int
) -> Iterator[R]:
    """Run ``work`` on a bounded window of items at once; yield results in input order."""
    pending: deque[Future[R]] = deque()
    source = iter(items)
    for item in itertools.islice(source, window):
        pending.append(executor.submit(work, item))
    while pending:
        result = pending.popleft().result()
        for item in itertools.islice(source, 1):
            pending.append(executor.submit(work, item))
        yield result


class Coordinator:
    """Runs the per-user work on a bounded pool; the caller's thread writes messages."""

    def __init__(
        self,
        *,
        config: Mapping[str, t.Any],
        transport: Transport,
        minter: Minter,
        markers: Mapping[str, str],
        endpoints: Callable[[], list[EndpointSpec]],
        per_user_streams: Callable[[], set[str]],
        logger: logging.Logger,
        progress_seconds: float = PROGRESS_INTERVAL_SECONDS,
        targets: list[dict] | None = None,
    ) -> None:
        self.config = config
        # Notifications mode between sweeps: the inbox's events name the users to check,
        # and, per user, the endpoints that changed (None: every endpoint).
        self.targets = targets
        self._named: dict[str, frozenset[str] | None] = {}
        self.transport = transport
        self.logger = logger
        self.api_url = str(config["api_url"]).rstrip("/")
        self.admin_url = str(config["admin_url"]).rstrip("/")
        self.page_size = int(config["page_size"])
        self.lookback = timedelta(minutes=float(config["lookback_minutes"]))
        self.start_date = parse_time(config.get("start_date"))
        workers = int(config["max_workers"])
        # Users in flight: a changed user holds its place in the output order for ~30
        # requests while unchanged ones take 2, so the window must be wide enough that
        # the pool stays busy behind it. Unchanged users' results are a few sources.
        self.window = workers * 32
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="humanapi")
        self.user_tokens = TokenCache(minter.user_token)
        self.app_tokens = TokenCache(minter.app_token)
        self.saved_markers = {k: v for k, v in markers.items() if parse_time(v)}
        self._endpoints = endpoints
        self._admin_users: list[dict] | None = None
        self._checks: list[UserCheck] | None = None
        self._spool = Spool("tap-humanapi-", per_user_streams)
        self.progress_seconds = progress_seconds
        # Users by outcome, counted as the pass collects them (a failed pass: so far).
        self.outcomes: Counter[str] = Counter(dict.fromkeys(OUTCOMES, 0))

    def close(self) -> None:
        """Stop the pool and remove the spool."""
        self.executor.shutdown(wait=True, cancel_futures=True)
        self._spool.close()

    # -- the roster ----------------------------------------------------------------

    def admin_users(self) -> list[dict]:
        """Users of this shard from the admin API (only client_user_ids, if set)."""
        if self._admin_users is None:
            wanted = self.config.get("client_user_ids")
            shards = int(self.config["shard_count"]), int(self.config["shard_index"])
            users = []
            for user in self._list_admin_users():
                client_user_id = user["clientUserId"]
                if wanted is not None and client_user_id not in wanted:
                    continue
                if in_shard(client_user_id, *shards):
                    users.append(user)
            if wanted is not None:
                listed = {u["clientUserId"] for u in users}
                unlisted = sum(1 for c in set(wanted) if c not in listed and in_shard(c, *shards))
                if unlisted:
                    self.logger.warning(
                        "%d of the configured client_user_ids are not listed by the admin "
                        "API; they are skipped",
                        unlisted,
                    )
            self._admin_users = users
        return self._admin_users

    def _list_admin_users(self) -> Iterator[dict]:
        what = f"stream 'users': GET {ADMIN_USERS_PATH}"
        offset = 0
        while True:
            try:
                reply = self.transport.send(
                    "GET",
                    self.admin_url + ADMIN_USERS_PATH,
                    what=what,
                    token=lambda: self.app_tokens.get("app"),
                    on_unauthorized=lambda: self.app_tokens.invalidate("app"),
                    params={"offset": offset},
                )
            except UserFailure as exc:  # the app's own token: nothing to skip, fail
                raise HumanAPIError(str(exc)) from None
            if not reply.response.ok:
                raise HumanAPIError(describe_response(reply.response, what))
            page = reply.body
            if not isinstance(page, list) or not all(
                isinstance(u, dict)
                and isinstance(u.get("humanId"), str)
                and isinstance(u.get("clientUserId"), str)
                for u in page
            ):
                msg = f"{what} answered JSON of an unexpected shape (expected a list of users)"
                raise HumanAPIError(msg)
            if not page:
                return
            yield from page
            offset += len(page)

    def roster(self) -> list[HumanUser]:
        """The users this run works on, in a stable order: all, or the notified ones."""
        if self.targets is not None:
            return self._notified_users(self.targets)
        return [HumanUser(u["humanId"], u["clientUserId"]) for u in self.admin_users()]

    def _notified_users(self, events: list[dict]) -> list[HumanUser]:
        """The users the events name, once each, of this shard (and client_user_ids).

        A notification names the user by ``humanId`` and, usually, ``clientUserId``
        (the token is minted for the latter). Only when one lacks it does the run read
        the admin user list to find it.
        """
        named: dict[str, str | None] = {}
        known = {e.path.lstrip("/") for e in self._endpoints()}
        for event in events:
            human_id, client_user_id = event.get("humanId"), event.get("clientUserId")
            if not isinstance(human_id, str) or not human_id:
                continue
            if isinstance(client_user_id, str) and client_user_id:
                named[human_id] = client_user_id
            else:
                named.setdefault(human_id, None)
            self._note_endpoint(human_id, event.get("endpoint"), known)
        if None in named.values():
            listed = {u["humanId"]: u["clientUserId"] for u in self.admin_users()}
            named = {h: c or listed.get(h) for h, c in named.items()}
        wanted = self.config.get("client_user_ids")
        shards = int(self.config["shard_count"]), int(self.config["shard_index"])
        return [
            HumanUser(human_id, client_user_id)
            for human_id, client_user_id in named.items()
            if client_user_id is not None
            and (wanted is None or client_user_id in wanted)
            and in_shard(client_user_id, *shards)
        ]

    def _note_endpoint(self, human_id: str, endpoint: object, known: set[str]) -> None:
        """Add what one event names to the user's endpoints to read.

        A data endpoint of a selected stream (one of ``known``, e.g. ``medical/vitals``)
        is read alone; ``sources`` (a sync status) needs only the sources check.
        Anything else (no endpoint, one this tap does not know, a retried user) means
        every endpoint.
        """
        so_far = self._named.get(human_id, frozenset())
        if so_far is None:
            return
        name = endpoint.strip("/") if isinstance(endpoint, str) else None
        if name == "sources":
            self._named[human_id] = so_far
        elif name in known:
            self._named[human_id] = so_far | {name}
        else:
            self._named[human_id] = None

    def _to_read(self, user: HumanUser, endpoints: list[EndpointSpec]) -> list[EndpointSpec]:
        """The endpoints to read for a user: those its notifications name, or all."""
        named = self._named.get(user.human_id) if self.targets is not None else None
        if named is None:
            return endpoints
        return [e for e in endpoints if e.path.lstrip("/") in named]

    # -- change detection ------------------------------------------------------------

    def checks(self) -> list[UserCheck]:
        """Every user's check, after the one pass over all users (run on first use)."""
        if self._checks is None:
            self._run_pass()
        assert self._checks is not None
        return self._checks

    @property
    def pass_ran(self) -> bool:
        """Whether the per-user pass ran (no per-user stream selected: it does not)."""
        return self._checks is not None

    def spool(self) -> Spool:
        """Every changed user's records, per stream in roster order (after the pass)."""
        self.checks()
        return self._spool

    def _run_pass(self) -> None:
        endpoints = self._endpoints()
        roster = self.roster()
        progress = Progress(
            self.logger, noun="users", total=len(roster), interval=self.progress_seconds
        )

        def work(user: HumanUser) -> tuple[UserCheck, dict[str, list[dict]]]:
            done = self._work(user, endpoints)
            progress.advance()
            return done

        self._spool.open(e.name for e in endpoints)
        checks = []
        try:
            for check, data in ordered(self.executor, work, roster, self.window):
                checks.append(check)
                self.outcomes[check.outcome] += 1
                for name, records in data.items():
                    self._spool.write(name, records)
        finally:
            self._spool.seal()
        self._checks = checks

    def endpoint_names(self) -> list[str]:
        """The data streams this run reads (the markers cover exactly these)."""
        return sorted(e.name for e in self._endpoints())

    def markers(self) -> dict[str, str]:
        """The markers to save: last run's, advanced for users read completely now."""
        merged = dict(self.saved_markers)
        merged.update({c.user.human_id: c.new_marker for c in self.checks() if c.new_marker})
        return merged

    def _get(self, user: HumanUser, url: str, what: str, params: dict | None = None) -> Reply:
        """GET with the user's token (minted again once on a 401)."""
        return self.transport.send(
            "GET",
            url,
            what=what,
            token=lambda: self.user_tokens.get(user.client_user_id),
            on_unauthorized=lambda: self.user_tokens.invalidate(user.client_user_id),
            params=params,
        )

    def read_sources(self, user: HumanUser) -> list[dict]:
        """The user's source accounts with their sync status."""
        what = "stream 'sources': GET /sources"
        reply = self._get(user, self.api_url + "/sources", what)
        if not reply.response.ok:
            raise UserFailure(describe_response(reply.response, what))
        if not isinstance(reply.body, list) or not all(isinstance(s, dict) for s in reply.body):
            msg = f"{what} answered JSON of an unexpected shape (expected a list of sources)"
            raise HumanAPIError(msg)
        check_keys(what, "source", reply.body, SOURCE_KEYS)
        return reply.body

    def _check(self, user: HumanUser) -> UserCheck:
        check = UserCheck(user, checked_at=format_time(datetime.now(UTC)))
        try:
            check.sources = self.read_sources(user)
        except TokenRefused as exc:
            check.outcome, check.detail = "token_rejected", str(exc)
            return check
        except UserFailure as exc:
            check.outcome, check.detail = "error", str(exc)
            return check
        statuses = [s.get("syncStatus") or {} for s in check.sources]
        check.synched_at = self._newest(check.sources)
        reauth = [s for s in statuses if s.get("details") == REAUTH_DETAIL]
        previous = parse_time(self.saved_markers.get(user.human_id))
        check.read_data = check.synched_at is not None and (
            previous is None or check.synched_at > previous
        )
        if reauth:
            check.outcome = "needs_reauth"
            check.detail = f"{len(reauth)} source(s) need the user to reconnect in Connect"
        elif check.read_data:
            check.outcome = "synced"
        if check.read_data:
            check.updated_since = previous - self.lookback if previous else self.start_date
        return check

    # -- one user --------------------------------------------------------------------

    def _work(
        self, user: HumanUser, endpoints: list[EndpointSpec]
    ) -> tuple[UserCheck, dict[str, list[dict]]]:
        check = self._check(user)
        data: dict[str, list[dict]] = {}
        if not check.read_data or not endpoints:
            return check, data
        keys = {"human_id": user.human_id, "client_user_id": user.client_user_id}
        chosen = self._to_read(user, endpoints)
        check.partial = len(chosen) < len(endpoints)
        try:
            for endpoint in chosen:
                data[endpoint.name] = [{**r, **keys} for r in self._read(check, endpoint)]
            if check.partial:
                # The marker covers every endpoint: it stays, so the next sweep (or a
                # full read) reads the others from it, a dropped notification included.
                check.detail = "read the notified endpoints only; the next sweep reads all"
                return check, data
            settled = self._newest(self.read_sources(user)) == check.synched_at
        except UserFailure as exc:
            # No id in the log: the user's user_sync_status row names the user and why.
            self.logger.warning("A user was skipped for this run: %s", exc)
            check.outcome, check.detail = "error", str(exc)
            return check, data
        if settled and check.synched_at is not None:
            check.new_marker = format_time(check.synched_at)
        else:
            check.detail = "a source synced again during this run; read again next run"
        return check, data

    @staticmethod
    def _newest(sources: list[dict]) -> datetime | None:
        times = (parse_time((s.get("syncStatus") or {}).get("synchedAt")) for s in sources)
        return max(filter(None, times), default=None)

    def _read(self, check: UserCheck, endpoint: EndpointSpec) -> list[dict]:
        what = f"stream '{endpoint.name}': GET {endpoint.path}"
        if endpoint.single:
            reply = self._get(check.user, self.api_url + endpoint.path, what)
            if reply.response.status_code == 404:
                return []
            if not reply.response.ok:
                raise UserFailure(describe_response(reply.response, what))
            if not isinstance(reply.body, dict):
                msg = f"{what} answered JSON of an unexpected shape (expected one object)"
                raise HumanAPIError(msg)
            return [reply.body]
        base: dict[str, t.Any] = {"limit": self.page_size}
        if check.updated_since is not None:
            base["updated_since"] = format_time(check.updated_since)
        records: list[dict] = []
        url = self.api_url + endpoint.path
        params: dict[str, t.Any] | None = {**base, "offset": 0}
        while True:
            reply = self._get(check.user, url, what, params)
            if not reply.response.ok:
                raise UserFailure(describe_response(reply.response, what))
            page = reply.body
            if not isinstance(page, list) or not all(isinstance(r, dict) for r in page):
                msg = f"{what} answered JSON of an unexpected shape (expected a list of records)"
                raise HumanAPIError(msg)
            check_keys(what, "record", page, RECORD_KEYS)
            records.extend(page)
            if len(page) < self.page_size:
                return records
            next_url = reply.response.links.get("next", {}).get("url")
            if next_url and path_of(next_url).endswith(endpoint.path):
                url, params = next_url, None
            else:
                url, params = self.api_url + endpoint.path, {**base, "offset": len(records)}
