"""A direct, read-only look at the database (optional: the target names a DSN's variable)."""

from __future__ import annotations

from dataclasses import dataclass

from synthetics.aws._access import one_line


@dataclass(frozen=True)
class DatabaseProbe:
    connected: bool
    error: str | None = None
    connections: int | None = None
    max_connections: int | None = None
    oldest_query_s: float | None = None

    @property
    def pool_use(self) -> float | None:
        if self.connections is None or not self.max_connections:
            return None
        return self.connections / self.max_connections


def probe_database(dsn: str, timeout_s: float) -> DatabaseProbe:
    """Connects read-only, runs SELECT 1, and reads connection use and the oldest running query."""
    import psycopg2

    try:
        connection = psycopg2.connect(
            dsn,
            connect_timeout=max(1, int(timeout_s)),
            application_name="synapse-synthetics",
            options=f"-c default_transaction_read_only=on -c statement_timeout={int(timeout_s * 1000)}",
        )
    except psycopg2.Error as error:
        # The message names the host and the reason; libpq does not echo the password.
        return DatabaseProbe(False, one_line(error))
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.execute("SELECT count(*) FROM pg_stat_activity")
            connections = int(cursor.fetchone()[0])
            cursor.execute("SELECT current_setting('max_connections')::int")
            max_connections = int(cursor.fetchone()[0])
            cursor.execute(
                "SELECT coalesce(max(extract(epoch FROM now() - query_start)), 0) FROM pg_stat_activity "
                "WHERE state = 'active' AND pid <> pg_backend_pid()"
            )
            oldest = float(cursor.fetchone()[0])
    except psycopg2.Error as error:
        return DatabaseProbe(True, one_line(error))
    finally:
        connection.close()
    return DatabaseProbe(True, None, connections, max_connections, oldest)
