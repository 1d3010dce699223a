//! Everything Courier says to Postgres. Routes and actors call these functions; no other
//! module formats SQL. Queries are checked at run time (`query_as` + `FromRow`) and covered
//! by the integration tests against a real database.
//!
//! Delivery statuses appear in SQL only through [`sql`], which writes the lists from
//! [`DeliveryStatus`] once (statements are rendered into `LazyLock` statics by
//! [`statement!`]), so no statement spells a status by hand.

pub mod api_keys;
pub mod applications;
pub mod changes;
pub mod deliveries;
pub mod encryption_keys;
pub mod event_types;
pub mod explorer;
pub mod health;
pub mod messages;
pub mod nodelay;
pub mod outcomes;
pub mod portal_links;
pub mod sessions;
pub mod shards;
pub mod stats;
pub mod subscriptions;

use crate::domain::DeliveryStatus;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};

/// The migrations in `migrations/`, embedded in the binary and applied at start.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("DATABASE_URL is not a valid Postgres URL: {0}")]
    BadUrl(sqlx::Error),
    #[error("cannot reach the Postgres server named by DATABASE_URL: {0}")]
    Unreachable(sqlx::Error),
    #[error("cannot create the database {name:?}: {source}")]
    Create { name: String, source: sqlx::Error },
    #[error("cannot apply migrations: {0}")]
    Migrate(sqlx::migrate::MigrateError),
}

/// Renders a statement template: `{FINAL}`, `{DUE}`, `{UNFINISHED}` become parenthesised
/// lists of delivery statuses, and `{pending}`, `{paused}`, … (any status) a quoted status.
pub fn sql(template: &str) -> String {
    let list = |set: &[DeliveryStatus]| {
        let quoted: Vec<String> = set.iter().map(|s| format!("'{}'", s.as_str())).collect();
        format!("({})", quoted.join(", "))
    };
    let mut out = template
        .replace("{FINAL}", &list(DeliveryStatus::FINAL))
        .replace("{DUE}", &list(DeliveryStatus::DUE))
        .replace("{UNFINISHED}", &list(DeliveryStatus::UNFINISHED));
    for s in DeliveryStatus::ALL {
        out = out.replace(&format!("{{{}}}", s.as_str()), &format!("'{}'", s.as_str()));
    }
    out
}

/// `statement!(NAME = "… {DUE} …")`: a `static NAME: LazyLock<String>` rendered by [`sql`].
#[macro_export]
macro_rules! statement {
    ($(#[$meta:meta])* $name:ident = $template:expr) => {
        $(#[$meta])*
        static $name: std::sync::LazyLock<String> =
            std::sync::LazyLock::new(|| $crate::db::sql($template));
    };
}

/// How long one statement may run before Postgres cancels it.
pub const STATEMENT_TIMEOUT: &str = "30s";

/// How long Postgres lets a transaction of ours sit idle before it ends the session. Our
/// transactions never wait between statements; one that does belongs to a process that froze
/// or lost the network mid-transaction, and its locks would otherwise stay until the kernel
/// gives up on the connection: the change lock shared (an ingest) holds every subscription
/// change on every node, and the shards rows share-locked by an outcome write keep other
/// nodes from taking over that node's shards.
pub const IDLE_IN_TRANSACTION_TIMEOUT: &str = "3s";

/// Connects to `url`, creating the database when it does not exist, and applies migrations.
pub async fn connect_and_migrate(url: &str, max_connections: u32) -> Result<PgPool, ConnectError> {
    let options = PgConnectOptions::from_str(url)
        .map_err(ConnectError::BadUrl)?
        .options([
            ("statement_timeout", STATEMENT_TIMEOUT),
            (
                "idle_in_transaction_session_timeout",
                IDLE_IN_TRANSACTION_TIMEOUT,
            ),
        ]);
    create_database_if_missing(&options).await?;
    let port = options.get_port();
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .after_connect(move |_conn, _meta| {
            Box::pin(async move {
                nodelay::apply(port);
                Ok(())
            })
        })
        .connect_with(options)
        .await
        .map_err(ConnectError::Unreachable)?;
    MIGRATOR.run(&pool).await.map_err(ConnectError::Migrate)?;
    Ok(pool)
}

async fn create_database_if_missing(options: &PgConnectOptions) -> Result<(), ConnectError> {
    let name = options.get_database().unwrap_or("postgres").to_owned();
    let admin = options.clone().database("postgres");
    let mut conn = admin.connect().await.map_err(ConnectError::Unreachable)?;
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_optional(&mut conn)
        .await
        .map_err(ConnectError::Unreachable)?;
    if exists.is_none() {
        // The name comes from our own configuration and is quoted as an identifier.
        let sql = format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""));
        if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
        {
            // Another process may have created it between the check and here.
            let duplicate = e
                .as_database_error()
                .and_then(|d| d.code())
                .is_some_and(|c| c == "42P04");
            if !duplicate {
                return Err(ConnectError::Create { name, source: e });
            }
        }
    }
    let _ = conn.close().await;
    Ok(())
}

/// Whether a database error is about the data of one item (a value Postgres refused), so
/// that a batch holding it should be split rather than retried as a whole.
pub fn is_data_error(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|c| c.starts_with("22") || c.starts_with("54") || c.starts_with("23"))
}

/// Whether a database error means Postgres is unavailable (as opposed to a bad query).
pub fn is_unavailable(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Tls(_)
    ) || e
        .as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|c| {
            // 57P*: shutting down; 08*: connection; 53300: too many connections; 57014: a
            // statement timeout; 25P03: the session sat idle in a transaction (this process
            // was frozen or cut off) and was ended; 55P03: a change could not get the change
            // lock in time; 40001/40P01: serialization failure and deadlock (retry).
            c.starts_with("57P")
                || c.starts_with("08")
                || matches!(
                    c.as_ref(),
                    "53300" | "57014" | "25P03" | "55P03" | "40001" | "40P01"
                )
        })
}

#[cfg(test)]
mod tests {
    use super::sql;

    #[test]
    fn status_lists_come_from_the_enum() {
        assert_eq!(sql("x IN {DUE}"), "x IN ('pending', 'retrying')");
        assert_eq!(sql("x = {paused}"), "x = 'paused'");
        assert_eq!(sql("{FINAL}"), "('succeeded', 'failed', 'filtered')");
    }
}
