//! `partner-registry storage copy`: moves a SQLite registry into an empty
//! PostgreSQL database, row for row: orgs, clients, secret hashes, API token
//! hashes, access review campaigns, approvals, the `jti`s of recent client
//! assertions, idempotency records and the audit chain with its head, keeping every
//! id, sequence number and hash. The copy uses the same server key, so the same
//! tokens and client secrets keep working there and `audit verify` passes on it.

use super::{Target, postgres};
use crate::error::{Error, Result};
use std::fmt;
use tokio_postgres::types::ToSql;

/// A column's type, as both engines store it.
#[derive(Clone, Copy)]
enum Kind {
    Int,
    Text,
    Bytes,
}

use Kind::{Bytes, Int, Text};

/// A table, its columns in order, and the serial column PostgreSQL must
/// continue after the copied rows (if any).
type Table = (
    &'static str,
    &'static [(&'static str, Kind)],
    Option<&'static str>,
);

/// Every table, parents before children.
const TABLES: &[Table] = &[
    (
        "orgs",
        &[
            ("seq", Int),
            ("id", Text),
            ("name", Text),
            ("legal_entity", Text),
            ("technical_owner", Text),
            ("approval_authority", Text),
            ("commercial_sponsor", Text),
            ("contract_id", Text),
            ("contract_start", Text),
            ("contract_end", Text),
            ("tenant", Text),
            ("business_unit", Text),
            ("allowed_scopes", Text),
            ("max_clients", Int),
            ("labels", Text),
            ("created_at", Int),
            ("updated_at", Int),
            ("offboarded_at", Int),
            ("version", Int),
            ("review_enforcement", Text),
            ("approval_policy", Text),
        ],
        Some("seq"),
    ),
    (
        "clients",
        &[
            ("seq", Int),
            ("id", Text),
            ("client_id", Text),
            ("org_id", Text),
            ("name", Text),
            ("purpose", Text),
            ("owner", Text),
            ("scopes", Text),
            ("expires_at", Int),
            ("created_at", Int),
            ("updated_at", Int),
            ("revoked_at", Int),
            ("version", Int),
            ("secret_rotated_at", Int),
            ("last_used_at", Int),
            ("operated_by", Text),
            ("attributes", Text),
            ("auth_method", Text),
            ("jwks", Text),
            ("jwks_uri", Text),
        ],
        Some("seq"),
    ),
    (
        "client_secrets",
        &[
            ("id", Int),
            ("client_ref", Text),
            ("secret_hmac", Bytes),
            ("source", Text),
            ("created_at", Int),
            ("not_after", Int),
        ],
        Some("id"),
    ),
    (
        "api_tokens",
        &[
            ("id", Int),
            ("name", Text),
            ("role", Text),
            ("org_id", Text),
            ("token_hmac", Bytes),
            ("created_at", Int),
            ("revoked_at", Int),
            ("created_by", Text),
            ("expires_at", Int),
            ("last_used_at", Int),
            ("email", Text),
        ],
        Some("id"),
    ),
    (
        "review_campaigns",
        &[
            ("seq", Int),
            ("id", Text),
            ("org_id", Text),
            ("cause", Text),
            ("note", Text),
            ("opened_by", Text),
            ("opened_at", Int),
            ("due_at", Int),
        ],
        Some("seq"),
    ),
    (
        "approvals",
        &[
            ("seq", Int),
            ("id", Text),
            ("change_ref", Text),
            ("entity_kind", Text),
            ("entity_id", Text),
            ("org_id", Text),
            ("attribute", Text),
            ("old_value", Text),
            ("new_value", Text),
            ("approver", Text),
            ("token_name", Text),
            ("created_at", Int),
            ("expires_at", Int),
            ("used_at", Int),
            ("used_by", Text),
        ],
        Some("seq"),
    ),
    // Kept for the few minutes until their assertions' `exp`: a copy made
    // and put to use within them still refuses a replay.
    (
        "assertion_jtis",
        &[("client_id", Text), ("jti", Text), ("expires_at", Int)],
        None,
    ),
    (
        "review_items",
        &[
            ("campaign_id", Text),
            ("client_ref", Text),
            ("decision", Text),
            ("comment", Text),
            ("decided_by", Text),
            ("decided_at", Int),
        ],
        None,
    ),
    (
        "client_usage_daily",
        &[("client_ref", Text), ("day", Int), ("count", Int)],
        None,
    ),
    (
        "idempotency_keys",
        &[
            ("token_id", Int),
            ("key", Text),
            ("fingerprint", Text),
            ("status", Int),
            ("response", Text),
            ("location", Text),
            ("created_at", Int),
        ],
        None,
    ),
    (
        "audit_events",
        &[
            ("seq", Int),
            ("at", Int),
            ("actor", Text),
            ("action", Text),
            ("entity_kind", Text),
            ("entity_id", Text),
            ("org_id", Text),
            ("before", Text),
            ("after", Text),
            ("request_id", Text),
            ("change_ref", Text),
            ("prev_hash", Text),
            ("hash", Text),
        ],
        None,
    ),
    (
        "audit_head",
        &[("id", Int), ("seq", Int), ("hash", Text), ("mac", Text)],
        None,
    ),
];

/// How many rows of each table were copied.
#[derive(Debug, Default)]
pub struct Copied(Vec<(&'static str, usize)>);

impl fmt::Display for Copied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(t, n)| format!("{n} {t}")).collect();
        f.write_str(&parts.join(", "))
    }
}

/// One cell, typed for PostgreSQL.
enum Cell {
    Int(Option<i64>),
    Text(Option<String>),
    Bytes(Option<Vec<u8>>),
}

impl Cell {
    fn read(row: &rusqlite::Row<'_>, i: usize, kind: Kind) -> rusqlite::Result<Cell> {
        Ok(match kind {
            Int => Cell::Int(row.get(i)?),
            Text => Cell::Text(row.get(i)?),
            Bytes => Cell::Bytes(row.get(i)?),
        })
    }

    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Cell::Int(v) => v,
            Cell::Text(v) => v,
            Cell::Bytes(v) => v,
        }
    }
}

/// Copies the SQLite registry `source` into the empty PostgreSQL database at `url`.
pub fn sqlite_to_postgres(source: &crate::Opened, url: &str) -> Result<Copied> {
    let super::Engine::Sqlite(sqlite) = &*source.db.engine else {
        return Err(Error::BadRequest("--from must be a SQLite file".into()));
    };
    // Creates the schema (and refuses a database from a newer binary).
    let target = postgres::Postgres::open(url)?;
    if target.read(|r| r.holds_data())? {
        return Err(Error::Conflict(format!(
            "{} is not empty: copy into a new database",
            Target::Postgres(url.to_string()).describe()
        )));
    }
    drop(target);
    let conn = super::sqlite::open_connection(sqlite.path())?;
    conn.execute_batch("BEGIN")?;
    let mut rows_by_table = Vec::new();
    for (table, columns, _) in TABLES {
        let names: Vec<&str> = columns.iter().map(|(n, _)| *n).collect();
        let mut st = conn.prepare(&format!(
            "SELECT {} FROM {table} ORDER BY rowid",
            names.join(", ")
        ))?;
        let rows = st
            .query_map([], |r| {
                columns
                    .iter()
                    .enumerate()
                    .map(|(i, (_, kind))| Cell::read(r, i, *kind))
                    .collect::<rusqlite::Result<Vec<Cell>>>()
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows_by_table.push(rows);
    }
    conn.execute_batch("COMMIT")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("starting a runtime: {e}")))?;
    runtime.block_on(async {
        let (mut client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .map_err(postgres::pg_err)?;
        let driver = tokio::spawn(connection);
        let tx = client.transaction().await.map_err(postgres::pg_err)?;
        let mut copied = Copied::default();
        for ((table, columns, serial), rows) in TABLES.iter().zip(&rows_by_table) {
            let names: Vec<&str> = columns.iter().map(|(n, _)| *n).collect();
            let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
            let insert = tx
                .prepare(&format!(
                    "INSERT INTO {table} ({}) VALUES ({})",
                    names.join(", "),
                    placeholders.join(", ")
                ))
                .await
                .map_err(postgres::pg_err)?;
            for row in rows {
                let params: Vec<&(dyn ToSql + Sync)> = row.iter().map(Cell::as_sql).collect();
                tx.execute(&insert, &params)
                    .await
                    .map_err(postgres::pg_err)?;
            }
            if let Some(column) = serial {
                tx.execute(
                    &format!(
                        "SELECT setval(pg_get_serial_sequence('{table}', '{column}'), \
                         GREATEST((SELECT MAX({column}) FROM {table}), 1))"
                    ),
                    &[],
                )
                .await
                .map_err(postgres::pg_err)?;
            }
            copied.0.push((table, rows.len()));
        }
        tx.commit().await.map_err(postgres::pg_err)?;
        drop(client);
        let _ = driver.await;
        Ok(copied)
    })
}
