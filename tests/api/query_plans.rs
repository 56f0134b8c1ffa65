//! Every query on a path a person waits on finds its rows through an index
//! that gives its filter and its order, so its cost does not grow with the
//! history: `EXPLAIN QUERY PLAN` on SQLite, and `EXPLAIN` on PostgreSQL
//! when `TEST_PG_URL` is set, of the statements the product itself builds
//! (the `…_query` builders beside the functions that run them). A table
//! scan or a sort fails the test.

use clap::Parser;
use entities::{attachment, message, session};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, QueryTrait, Statement};
use switchboard::chat::attachments;
use switchboard::chat::integrations::{deliveries, endpoints, keys, outbox};
use switchboard::chat::messages::history::{self, PageFrom};
use switchboard::chat::reports::{self, Range};
use switchboard::chat::routing::{agents, assign, queue, sql};
use switchboard::chat::{Role, User, sessions, stats};
use switchboard::chat::{canned, notes};
use switchboard::config::Cli;
use switchboard::db;

const TENANT: &str = "acme";
const SESSION: &str = "0199a000-0000-7000-8000-000000000000";
const MIDNIGHT: i64 = 1_795_305_600_000;

fn user(id: &str, role: Role) -> User {
    User {
        id: id.into(),
        tenant: TENANT.into(),
        role,
        name: None,
        email: None,
    }
}

/// The product's statements, named for the failure message.
fn queries(backend: DbBackend) -> Vec<(&'static str, Statement)> {
    let agent = user("agent-1", Role::Agent);
    let customer = user("customer-1", Role::Customer);
    let list = |user: &User, status: Option<&str>, after: Option<&str>| {
        sessions::list_query(user, status, 50, after)
            .expect("a valid list")
            .build(backend)
    };
    let page = |from: PageFrom| history::page_query(SESSION, &from, 50).build(backend);
    vec![
        ("agent's list", list(&agent, None, None)),
        ("agent's next page", list(&agent, None, Some(SESSION))),
        ("agent's list by status", list(&agent, Some("closed"), None)),
        (
            "agent's next page by status",
            list(&agent, Some("pending"), Some(SESSION)),
        ),
        ("customer's own list", list(&customer, None, None)),
        (
            "customer's own next page",
            list(&customer, None, Some(SESSION)),
        ),
        (
            "customer's own list by status",
            list(&customer, Some("closed"), Some(SESSION)),
        ),
        (
            "customer's open session",
            sessions::open_session_query(&customer).build(backend),
        ),
        (
            "session by id",
            session::Entity::find_by_id(SESSION).build(backend),
        ),
        (
            "message by id",
            message::Entity::find_by_id(SESSION).build(backend),
        ),
        // A join reads the newest page, or its catch-up as a page after.
        ("newest history page (and a join)", page(PageFrom::Newest)),
        ("history page before", page(PageFrom::Before(500))),
        (
            "history page after (and a catch-up)",
            page(PageFrom::After(500)),
        ),
        (
            "stats",
            stats::query(backend, TENANT, MIDNIGHT + 3_600_000, MIDNIGHT + 3_610_000),
        ),
        // Attachments (docs/protocol.md §8).
        (
            "a page's attachments",
            attachments::of_messages_query(&[SESSION, SESSION]).build(backend),
        ),
        (
            "the sweep's unsent uploads",
            attachments::unsent_query(MIDNIGHT, 500).build(backend),
        ),
        (
            "attachment by id",
            attachment::Entity::find_by_id(SESSION).build(backend),
        ),
        // Agent tools (docs/protocol.md §11).
        (
            "a session's notes",
            notes::list_query(SESSION).build(backend),
        ),
        (
            "the tenant's canned responses",
            canned::list_query(TENANT).build(backend),
        ),
        // Routing (docs/protocol.md §8).
        (
            "queue positions of a list of sessions",
            raw(
                backend,
                &queue::positions_sql(2),
                &[TENANT, NOW, SESSION, NOW, SESSION, SESSION, SESSION],
            ),
        ),
        (
            "the queue in order",
            raw(backend, &queue::waiting_sql(20), &[TENANT]),
        ),
        (
            "the last assignments (wait estimate)",
            raw(backend, queue::RECENT_ASSIGNMENTS_SQL, &[TENANT, NOW]),
        ),
        ("agents' loads", raw(backend, agents::LOADS_SQL, &[TENANT])),
        (
            "the tenant's staff",
            raw(backend, agents::STAFF_SQL, &[TENANT]),
        ),
        (
            "routable agents",
            raw(backend, &sql::available_sql(), &[TENANT, NOW]),
        ),
        (
            "auto-assignment candidates",
            raw(backend, &assign::candidates_sql(), &[TENANT, NOW]),
        ),
        (
            "sessions of agents offline too long",
            raw(backend, assign::ORPHAN_SQL, &[TENANT, NOW]),
        ),
        // Integrations (docs/protocol.md §10).
        (
            "an API key by its hash",
            raw(backend, keys::BY_HASH_SQL, &["ab12"]),
        ),
        (
            "the tenant's API keys",
            raw(backend, keys::LIST_SQL, &[TENANT]),
        ),
        (
            "the tenant's webhooks",
            raw(backend, endpoints::LIST_SQL, &[TENANT]),
        ),
        (
            "the webhooks a change is reported to",
            raw(backend, outbox::SUBSCRIBERS_SQL, &[TENANT]),
        ),
        (
            "a webhook's deliveries",
            raw(backend, &deliveries::list_sql(), &[SESSION, TENANT, "50"]),
        ),
        (
            "due webhook deliveries",
            raw(
                backend,
                &deliveries::due_sql(backend, 1),
                &["0", "x", NOW, "32", SESSION],
            ),
        ),
        (
            "webhook events past their retention",
            raw(backend, deliveries::OLD_EVENTS_SQL, &[NOW, "500"]),
        ),
    ]
}

const NOW: &str = "1795305600000";

/// A raw statement of the routing modules with text values (numbers are
/// compared as numbers by both databases' planners alike).
fn raw(backend: DbBackend, sql: &str, values: &[&str]) -> Statement {
    let values: Vec<sea_orm::Value> = values
        .iter()
        .map(|v| match v.parse::<i64>() {
            Ok(n) => n.into(),
            Err(_) => (*v).into(),
        })
        .collect();
    Statement::from_sql_and_values(backend, sql, values)
}

/// The plan's lines, one string each.
async fn plan(db: &DatabaseConnection, explain: &str, statement: &Statement) -> Vec<String> {
    let backend = db.get_database_backend();
    let explained = Statement::from_sql_and_values(
        backend,
        format!("{explain} {}", statement.sql),
        statement.values.clone().map(|v| v.0).unwrap_or_default(),
    );
    let column = if backend == DbBackend::Sqlite {
        "detail"
    } else {
        "QUERY PLAN"
    };
    db.query_all_raw(explained)
        .await
        .unwrap_or_else(|e| panic!("{explain} {}: {e}", statement.sql))
        .iter()
        .map(|row| row.try_get::<String>("", column).expect("a plan line"))
        .collect()
}

/// What reads more than the rows it needs: a table scan, a sort, or an
/// index search that does not start from the tenant, the session or the
/// id (such as the primary key read backwards, filtering on the tenant).
fn offending(backend: DbBackend, plan: &[String]) -> Vec<String> {
    if backend == DbBackend::Sqlite {
        // A scan of a co-routine reads the rows of a subquery whose own
        // search is checked on its line, not a table.
        let coroutines: Vec<String> = plan
            .iter()
            .filter_map(|line| line.strip_prefix("CO-ROUTINE "))
            .map(|name| format!("SCAN {name}"))
            .collect();
        return plan
            .iter()
            .filter(|line| {
                // `SCAN CONSTANT ROW`: the stats' outer SELECT of subqueries.
                let table_scan = line.contains("SCAN ")
                    && !line.contains("SCAN CONSTANT ROW")
                    && !coroutines.iter().any(|scan| line.as_str() == scan);
                table_scan
                    || line.contains("TEMP B-TREE")
                    || (line.contains("SEARCH ") && !starts_from_a_key(line, "="))
            })
            .cloned()
            .collect();
    }
    // PostgreSQL: one node per `->` line (the first has none); the lines
    // below a node are its details (`Index Cond: …`, `Filter: …`).
    let mut nodes: Vec<(String, Vec<String>)> = Vec::new();
    for line in plan {
        let text = line.trim_start().trim_start_matches("->").trim_start();
        if line.contains("(cost=") {
            nodes.push((text.to_string(), Vec::new()));
        } else if let Some((_, details)) = nodes.last_mut() {
            details.push(text.replace(['(', ')'], "").replace("::text", ""));
        }
    }
    nodes
        .into_iter()
        .filter(|(node, details)| {
            let sorts = node.starts_with("Sort") || node.starts_with("Incremental Sort");
            let index = node.starts_with("Index") || node.starts_with("Bitmap Index");
            let keyed = details
                .iter()
                .any(|d| d.starts_with("Index Cond:") && starts_from_a_key(d, " ="));
            node.starts_with("Seq Scan") || sorts || (index && !keyed)
        })
        .map(|(node, details)| format!("{node} {details:?}"))
        .collect()
}

/// Whether an index search's condition pins the tenant, the session, a
/// webhook endpoint, an API key's hash or the row (`eq` is how the plan
/// writes equality: `=` or ` =`).
fn starts_from_a_key(condition: &str, eq: &str) -> bool {
    [
        "tenant",
        "session_id",
        "message_id",
        "endpoint_id",
        "key_hash",
        "id",
    ]
    .iter()
    .any(|key| {
        condition.contains(&format!("({key}{eq}"))
            || condition.contains(&format!(": {key}{eq}"))
            || condition.contains(&format!(" {key}{eq}"))
    })
}

/// The reports' figures (one grouped query each over a time index):
/// grouping by bucket may sort its groups, at most one per bucket, never
/// the rows.
fn report_queries(backend: DbBackend) -> Vec<(String, Statement)> {
    let range = Range::parse(Some("hour"), None, None, MIDNIGHT).expect("a range");
    reports::queries(backend, TENANT, &range)
        .into_iter()
        .map(|(name, statement)| (format!("report: {name}"), statement))
        .collect()
}

/// Background work that walks an index by a range (no tenant or session
/// to start from) but never scans the table or sorts: checked for those.
const RANGES: [&str; 3] = [
    "the sweep's unsent uploads",
    "due webhook deliveries",
    "webhook events past their retention",
];

async fn assert_every_query_uses_an_index(db: &DatabaseConnection, explain: &str) {
    let backend = db.get_database_backend();
    let mut failures = Vec::new();
    let reports = report_queries(backend);
    let all = queries(backend)
        .into_iter()
        .map(|(name, statement)| (name.to_string(), statement))
        .chain(reports);
    for (name, statement) in all {
        let plan = plan(db, explain, &statement).await;
        let mut bad = offending(backend, &plan);
        if name.starts_with("report: ") {
            bad.retain(|line| !line.contains("TEMP B-TREE FOR GROUP BY"));
        }
        if name.starts_with("report: ") || RANGES.contains(&name.as_str()) {
            bad.retain(|line| {
                line.contains("SCAN ")
                    || line.contains("TEMP B-TREE")
                    || line.starts_with("Seq Scan")
                    || line.contains("Sort")
            });
        }
        if !bad.is_empty() {
            failures.push(format!(
                "{name}: {bad:?}\n  {}\n  plan: {plan:#?}",
                statement.sql
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "queries that scan or sort:\n{}",
        failures.join("\n")
    );
}

async fn migrated(url: &str) -> db::Databases {
    let config = Cli::parse_from(["switchboard", "--database-url", url]).server;
    let databases = db::connect(&config).await.expect("database opens");
    db::migrate(&databases.writer)
        .await
        .expect("migrations run");
    databases
}

#[tokio::test]
async fn every_sqlite_query_a_person_waits_on_searches_an_index_without_sorting() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/plans.db?mode=rwc", dir.path().display());
    let databases = migrated(&url).await;
    // Through the reader, as the lists run.
    assert_every_query_uses_an_index(&databases.reader, "EXPLAIN QUERY PLAN").await;
}

/// Skipped without `TEST_PG_URL` (scripts/test sets it). Scans are turned
/// off because on empty tables the planner rightly prefers them; sorts too,
/// so that an index giving the order is chosen when there is one: a `Seq
/// Scan` or a `Sort` left in the plan means no index can do it.
#[tokio::test]
async fn every_postgres_query_a_person_waits_on_uses_an_index_without_sorting() {
    let Ok(server) = std::env::var("TEST_PG_URL") else {
        eprintln!("TEST_PG_URL is not set: PostgreSQL plans not checked");
        return;
    };
    let admin = sea_orm::Database::connect(&server).await.unwrap();
    let name = format!("plans_{}", uuid_suffix());
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let url = match server.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => panic!("TEST_PG_URL has no database path: {server}"),
    };
    let databases = migrated(&url).await;
    // One connection, so the settings apply to every EXPLAIN.
    let db = sea_orm::Database::connect(
        sea_orm::ConnectOptions::new(url.clone())
            .max_connections(1)
            .to_owned(),
    )
    .await
    .unwrap();
    db.execute_unprepared("SET enable_seqscan = off; SET enable_sort = off")
        .await
        .unwrap();
    assert_every_query_uses_an_index(&db, "EXPLAIN").await;
    db.close().await.unwrap();
    databases.writer.close().await.unwrap();
    databases.reader.close().await.unwrap();
    admin
        .execute_unprepared(&format!("DROP DATABASE {name}"))
        .await
        .unwrap();
}

fn uuid_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{}_{nanos}", std::process::id())
}
