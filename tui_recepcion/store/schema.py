"""The store's schema: the migration steps and how they are applied, for both backends.

Each step runs in its own transaction and bumps the schema version by one (SQLite: `PRAGMA
user_version`; PostgreSQL: the `schema_version` table); a database from a newer program (a
higher version) is refused, never downgraded. One history serves both backends: SQLite
runs each statement as written, PostgreSQL through `dialect.to_postgres`.

THE RULE for a new step (append it at the END of `MIGRATIONS`; never edit a shipped step):
write SQL that SQLite and PostgreSQL both accept, so it runs unchanged on both.
- Tables: `id INTEGER PRIMARY KEY` for a generated id (no AUTOINCREMENT in new tables);
  column types TEXT and INTEGER only (moments, dates, amounts and JSON are TEXT; flags
  are INTEGER 0/1); no column named like a type (`text`, `integer`). PostgreSQL gets an
  identity column, BIGINT and byte-order TEXT (`dialect.py`).
- `CREATE TABLE`, `CREATE [UNIQUE] INDEX` (partial indexes with `WHERE` are fine),
  `ALTER TABLE … ADD COLUMN`, and UPDATE/INSERT of data; no `DROP COLUMN`, no table rebuild.
- In queries: `?` placeholders (never `?1`, `:name` or `%s`); `INSERT … ON CONFLICT (…) DO
  NOTHING / DO UPDATE` instead of `INSERT OR IGNORE/REPLACE` (in `DO UPDATE`, name the stored
  row's columns with the table, `SET n = t.n + 1`: PostgreSQL finds a bare `n` ambiguous);
  `RETURNING` for a new id (`cursor.lastrowid` also works); no SQLite-only functions
  (datetime(), json_extract(), strftime(), ifnull(), group_concat(); compute in Python), no
  `PRAGMA`, no `sqlite_master`/`sqlite_sequence` (use `Database.tables()` /
  `high_water_id()`). LIKE ignores the case of ASCII letters only, on both (PostgreSQL gets
  ILIKE); for accents and ñ compare a stored search key (`documents.search_key`).
- Write transactions: `with self._db.transaction(scope=account):` when the writes concern
  one account (writers of different accounts then run in parallel on PostgreSQL); no
  scope when they span the store.
tests/store/test_schema_rule.py checks every step against this rule and runs it on both.
"""

from __future__ import annotations

from tui_recepcion.store.database import Database
from tui_recepcion.store.problems import StoreError

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            account TEXT NOT NULL,
            source_key TEXT NOT NULL,
            message_id TEXT,
            subject TEXT,
            sender TEXT,
            raw_sha256 TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('procesado', 'fallido')),
            reason TEXT,
            detail TEXT,
            destination TEXT,
            cufes TEXT NOT NULL DEFAULT '[]',
            created_at TEXT NOT NULL,
            forwarded_at TEXT,
            disposed_at TEXT,
            UNIQUE (account, source_key)
        )""",
        "CREATE INDEX messages_by_hash ON messages (account, raw_sha256)",
        "CREATE INDEX messages_by_status ON messages (account, status)",
        """CREATE TABLE documents (
            id INTEGER PRIMARY KEY,
            account TEXT NOT NULL,
            cufe TEXT NOT NULL,
            message_row INTEGER REFERENCES messages (id),
            kind TEXT NOT NULL,
            tipo TEXT NOT NULL,
            number TEXT NOT NULL,
            environment TEXT,
            issue_date TEXT NOT NULL,
            issue_time TEXT,
            due_date TEXT,
            supplier_nit TEXT NOT NULL,
            supplier_dv TEXT,
            supplier_scheme TEXT,
            supplier_name TEXT NOT NULL,
            supplier_search TEXT NOT NULL,
            customer_nit TEXT NOT NULL,
            customer_dv TEXT,
            customer_scheme TEXT,
            customer_name TEXT NOT NULL,
            currency TEXT NOT NULL,
            subtotal TEXT,
            tax_base TEXT,
            tax_inclusive TEXT,
            tax_total TEXT NOT NULL,
            withholding_total TEXT NOT NULL,
            total TEXT NOT NULL,
            taxes TEXT NOT NULL,
            withholdings TEXT NOT NULL,
            dian_validation TEXT,
            reference_number TEXT,
            reference_cufe TEXT,
            reference_date TEXT,
            xml_path TEXT,
            pdf_path TEXT,
            created_at TEXT NOT NULL,
            UNIQUE (account, cufe)
        )""",
        "CREATE INDEX documents_by_date ON documents (account, issue_date)",
        "CREATE INDEX documents_by_supplier ON documents (supplier_nit)",
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            account TEXT,
            at TEXT NOT NULL,
            kind TEXT NOT NULL,
            payload TEXT NOT NULL
        )""",
    ),
    (
        # Generic state for alerts (expiry notices and the like): one row per thing to alert on.
        """CREATE TABLE alerts (
            id INTEGER PRIMARY KEY,
            account TEXT NOT NULL,
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'pendiente',
            sent_at TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            updated_at TEXT NOT NULL,
            UNIQUE (account, kind, key)
        )""",
    ),
    (
        # Alert delivery: a claim (owner and lease) so two processes never send the same
        # alert, a retry time after a failed send, and incident bookkeeping.
        "ALTER TABLE alerts ADD COLUMN created_at TEXT",
        "UPDATE alerts SET created_at = updated_at",
        "ALTER TABLE alerts ADD COLUMN closed_at TEXT",
        "ALTER TABLE alerts ADD COLUMN detail TEXT",
        "ALTER TABLE alerts ADD COLUMN recipient TEXT",
        "ALTER TABLE alerts ADD COLUMN next_attempt_at TEXT",
        "ALTER TABLE alerts ADD COLUMN claimed_by TEXT",
        "ALTER TABLE alerts ADD COLUMN claimed_until TEXT",
        "CREATE INDEX alerts_open ON alerts (account, kind) WHERE closed_at IS NULL",
    ),
    (
        # OAuth2 token health: the last successful refresh and the last failure, per account.
        """CREATE TABLE oauth_tokens (
            account TEXT PRIMARY KEY,
            healthy INTEGER NOT NULL,
            last_refresh_at TEXT,
            last_failure_at TEXT,
            last_failure_code TEXT,
            last_failure TEXT
        )""",
    ),
    (
        # Where the email subject disagreed with the XML (the XML wins; kept for review).
        "ALTER TABLE messages ADD COLUMN subject_mismatches TEXT",
    ),
    (
        # 6. Immutable documents: the hash of each stored document's signed content (NULL for
        # rows stored before; their XML file is hashed when needed), and the evidence of
        # messages that brought other content under a stored CUFE.
        "ALTER TABLE documents ADD COLUMN content_sha256 TEXT",
        """CREATE TABLE document_conflicts (
            id INTEGER PRIMARY KEY,
            account TEXT NOT NULL,
            cufe TEXT NOT NULL,
            message_row INTEGER REFERENCES messages (id),
            document_row INTEGER REFERENCES documents (id),
            content_sha256 TEXT,
            xml_path TEXT,
            pdf_path TEXT,
            detected_at TEXT NOT NULL
        )""",
        "CREATE INDEX document_conflicts_by_cufe ON document_conflicts (account, cufe)",
    ),
    (
        # 7. Failed attempts (fetch, RETR, store) on messages not decided yet, across passes.
        """CREATE TABLE message_attempts (
            account TEXT NOT NULL,
            source_key TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            stage TEXT NOT NULL,
            last_error TEXT NOT NULL,
            first_at TEXT NOT NULL,
            last_at TEXT NOT NULL,
            PRIMARY KEY (account, source_key)
        )""",
    ),
    (
        # 8. RADIAN: events received by mail or recorded by the company, linked by the CUFE
        # they refer to (the document may not be in the store), and each document's signatures.
        """CREATE TABLE radian_events (
            id INTEGER PRIMARY KEY,
            account TEXT NOT NULL,
            cude TEXT NOT NULL,
            code TEXT NOT NULL,
            cufe TEXT NOT NULL,
            origin TEXT NOT NULL,
            number TEXT,
            issue_date TEXT,
            issue_time TEXT,
            sender_nit TEXT,
            sender_name TEXT,
            receiver_nit TEXT,
            receiver_name TEXT,
            reference_number TEXT,
            claim_reason TEXT,
            description TEXT,
            environment TEXT,
            dian_validation TEXT,
            firma_emisor TEXT,
            firma_dian TEXT,
            source_key TEXT,
            created_at TEXT NOT NULL,
            UNIQUE (cude, code, cufe)
        )""",
        "CREATE INDEX radian_events_by_cufe ON radian_events (cufe)",
        "ALTER TABLE documents ADD COLUMN firma_emisor TEXT",
        "ALTER TABLE documents ADD COLUMN firma_dian TEXT",
        "ALTER TABLE documents ADD COLUMN firma_detalle TEXT",
    ),
    (
        # 9. RADIAN events the company sends to DIAN (tui_recepcion/radian/): one row per
        # document and event code, never two; and who asked for each attempt, and what came of it.
        """CREATE TABLE radian_sends (
            id INTEGER PRIMARY KEY,
            cufe TEXT NOT NULL,
            code TEXT NOT NULL,
            claim_reason TEXT,
            number TEXT NOT NULL,
            state TEXT NOT NULL,
            requested_by TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            cude TEXT,
            status_code TEXT,
            answer TEXT,
            rules TEXT NOT NULL,
            event_xml TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (cufe, code)
        )""",
        """CREATE TABLE radian_send_log (
            id INTEGER PRIMARY KEY,
            send_row INTEGER NOT NULL REFERENCES radian_sends (id),
            at TEXT NOT NULL,
            requested_by TEXT NOT NULL,
            action TEXT NOT NULL,
            state TEXT NOT NULL,
            detail TEXT
        )""",
        "CREATE INDEX radian_send_log_by_send ON radian_send_log (send_row)",
    ),
    (
        # 10. A failed message moved back to INBOX to be processed again: no longer in Fallidos.
        "ALTER TABLE messages ADD COLUMN reprocessed_at TEXT",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(db: Database) -> None:
    """Bring the database to `SCHEMA_VERSION`; another process may be migrating too."""
    with db.lock:
        version = db.schema_version()
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"La base de datos {db.name} es de una versión más nueva del programa "
                f"(esquema {version}, este programa conoce hasta el {SCHEMA_VERSION})."
            )
        for number in range(version, SCHEMA_VERSION):
            with db.transaction():
                # Re-read inside the write lock: another process may have migrated.
                if db.schema_version() > number:
                    continue
                for statement in MIGRATIONS[number]:
                    db.execute(statement)
                db.set_schema_version(number + 1)
