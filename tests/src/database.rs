//! Throw-away PostgreSQL databases on the machine's server, and dumps of the read models for
//! comparing two states of a database.

use sea_orm::{
    ConnectionTrait, Database, DatabaseConnection, FromQueryResult, JsonValue, Statement,
};

/// The server the scale-out tests use; `make test` makes sure one runs.
pub fn postgres_server() -> String {
    std::env::var("SIGMA_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// A fresh, empty database, dropped when this value is.
pub struct TestDatabase {
    pub name: String,
    pub url: String,
}

impl TestDatabase {
    pub async fn create() -> Self {
        let name = format!("sigma_test_{}", uuid::Uuid::new_v4().simple());
        let admin = Database::connect(format!("{}/postgres", postgres_server()))
            .await
            .expect("PostgreSQL answers (make test starts it)");
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("creating a test database");
        admin.close().await.ok();
        Self {
            url: format!("{}/{name}", postgres_server()),
            name,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs outside async; a short-lived runtime on its own thread does the cleanup.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async {
                if let Ok(admin) =
                    Database::connect(format!("{}/postgres", postgres_server())).await
                {
                    let _ = admin
                        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}

/// The read-model tables, each with the columns that order its rows.
const READ_MODELS: [(&str, &str); 6] = [
    ("accounts", "id"),
    ("channels", "id"),
    ("sessions", "id"),
    ("channel_events", "channel_id, sequence"),
    ("webhooks", "id"),
    ("alerts", "id"),
];

/// Every row of every read model, in a stable order, as JSON.
pub async fn dump_read_models(url: &str) -> Vec<(String, Vec<JsonValue>)> {
    let db: DatabaseConnection = Database::connect(url)
        .await
        .expect("connecting to the read models");
    let backend = db.get_database_backend();
    let mut dump = Vec::new();
    for (table, order) in READ_MODELS {
        let statement =
            Statement::from_string(backend, format!("SELECT * FROM {table} ORDER BY {order}"));
        let rows = JsonValue::find_by_statement(statement)
            .all(&db)
            .await
            .expect("reading a read model");
        dump.push((table.to_owned(), rows));
    }
    db.close().await.ok();
    dump
}

/// Empties every read model table (and the projections' offsets) behind the process's back,
/// as a lost database would be.
pub async fn empty_read_models(url: &str) {
    let db: DatabaseConnection = Database::connect(url)
        .await
        .expect("connecting to the read models");
    for (table, _) in READ_MODELS {
        db.execute_unprepared(&format!("DELETE FROM {table}"))
            .await
            .expect("emptying a read model");
    }
    db.execute_unprepared("DELETE FROM projection_offsets")
        .await
        .expect("emptying the projections' offsets");
    db.close().await.ok();
}

/// Every row of every table of the database at `url` (PostgreSQL), as text: what a copy of
/// the database would show.
pub async fn every_row_as_text(url: &str) -> String {
    let db: DatabaseConnection = Database::connect(url)
        .await
        .expect("connecting to the database");
    let backend = db.get_database_backend();
    let tables = db
        .query_all(Statement::from_string(
            backend,
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
        ))
        .await
        .expect("listing the tables");
    let mut text = String::new();
    for table in tables {
        let table: String = table.try_get_by_index(0).expect("a table name");
        let rows = db
            .query_all(Statement::from_string(
                backend,
                format!("SELECT row_to_json(t)::text FROM \"{table}\" t"),
            ))
            .await
            .expect("reading a table");
        for row in rows {
            let row: String = row.try_get_by_index(0).expect("a row as JSON");
            text.push_str(&row);
            text.push('\n');
        }
    }
    db.close().await.ok();
    text
}
