//! `/api/chat/sessions/{id}/messages` and `/read`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

fn seqs(page: &Value) -> Vec<i64> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn messages_get_seq_one_two_three_and_pages_walk_both_ways() {
    let app = spawn_app().await;
    let customer = token("c1", "customer", "t");
    let id = app.open_session(&customer, Some("m1")).await;
    let path = format!("/api/chat/sessions/{id}/messages");
    for n in 2..=7 {
        let sent = body(
            app.post(&path, &customer, json!({ "content": format!("m{n}") }))
                .await,
        )
        .await;
        assert_eq!(sent["seq"], n);
    }
    let newest = body(app.get(&format!("{path}?limit=3"), &customer).await).await;
    assert_eq!(seqs(&newest), [5, 6, 7]);
    let before = newest["nextCursor"].as_str().unwrap();
    let older = body(
        app.get(&format!("{path}?limit=3&before={before}"), &customer)
            .await,
    )
    .await;
    assert_eq!(seqs(&older), [2, 3, 4]);
    let oldest = body(
        app.get(
            &format!(
                "{path}?limit=3&before={}",
                older["nextCursor"].as_str().unwrap()
            ),
            &customer,
        )
        .await,
    )
    .await;
    assert_eq!(seqs(&oldest), [1]);
    assert_eq!(oldest["nextCursor"], json!(null));
    let first = oldest["items"][0]["id"].as_str().unwrap();
    let newer = body(
        app.get(&format!("{path}?limit=4&after={first}"), &customer)
            .await,
    )
    .await;
    assert_eq!(seqs(&newer), [2, 3, 4, 5]);
    let rest = body(
        app.get(
            &format!(
                "{path}?limit=4&after={}",
                newer["nextCursor"].as_str().unwrap()
            ),
            &customer,
        )
        .await,
    )
    .await;
    assert_eq!(seqs(&rest), [6, 7]);
    assert_eq!(rest["nextCursor"], json!(null));
    let both = app
        .get(&format!("{path}?before={first}&after={first}"), &customer)
        .await;
    assert_error(both, StatusCode::BAD_REQUEST, "invalid_payload").await;
    let foreign = app
        .get(&format!("{path}?after=not-a-message"), &customer)
        .await;
    assert_error(foreign, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn a_repeated_client_message_id_returns_the_stored_message() {
    let app = spawn_app().await;
    let customer = token("c1", "customer", "t");
    let id = app.open_session(&customer, None).await;
    let path = format!("/api/chat/sessions/{id}/messages");
    let first = app
        .post(
            &path,
            &customer,
            json!({ "content": "once", "clientMessageId": "k1" }),
        )
        .await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first = body(first).await;
    let again = app
        .post(
            &path,
            &customer,
            json!({ "content": "once", "clientMessageId": "k1" }),
        )
        .await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(body(again).await, first);
    let all = body(app.get(&path, &customer).await).await;
    assert_eq!(seqs(&all), [1]);
}

#[tokio::test]
async fn bad_messages_are_refused_and_nothing_is_stored() {
    let app = spawn_app_with(&["--message-max-length", "10"]).await;
    let customer = token("c1", "customer", "t");
    let id = app.open_session(&customer, None).await;
    let path = format!("/api/chat/sessions/{id}/messages");
    assert_error(
        app.post(&path, &customer, json!({ "content": "   " }))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_payload",
    )
    .await;
    assert_error(
        app.post(&path, &customer, json!({ "content": 5 })).await,
        StatusCode::BAD_REQUEST,
        "invalid_payload",
    )
    .await;
    assert_error(
        app.post(&path, &customer, json!(["x"])).await,
        StatusCode::BAD_REQUEST,
        "invalid_payload",
    )
    .await;
    assert_error(
        app.post(&path, &customer, json!({ "content": "12345678901" }))
            .await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "message_too_long",
    )
    .await;
    let raw = app
        .client
        .post(app.url(&path))
        .bearer_auth(&customer)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_error(raw, StatusCode::BAD_REQUEST, "invalid_payload").await;
    assert_eq!(
        seqs(&body(app.get(&path, &customer).await).await),
        Vec::<i64>::new()
    );
}

#[tokio::test]
async fn sending_to_a_closed_session_is_session_closed() {
    let app = spawn_app().await;
    let customer = token("c1", "customer", "t");
    let id = app.open_session(&customer, None).await;
    app.post(
        &format!("/api/chat/sessions/{id}/close"),
        &customer,
        json!({}),
    )
    .await;
    let response = app
        .post(
            &format!("/api/chat/sessions/{id}/messages"),
            &customer,
            json!({ "content": "hello?" }),
        )
        .await;
    assert_error(response, StatusCode::CONFLICT, "session_closed").await;
}

#[tokio::test]
async fn only_the_assigned_agent_may_answer() {
    let app = spawn_app().await;
    let id = app.open_session(&token("c1", "customer", "t"), None).await;
    let path = format!("/api/chat/sessions/{id}/messages");
    let watcher = token("a2", "agent", "t");
    assert_error(
        app.post(&path, &watcher, json!({ "content": "hi" })).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    app.post(
        &format!("/api/chat/sessions/{id}/assign"),
        &token("a1", "agent", "t"),
        json!({}),
    )
    .await;
    assert_error(
        app.post(&path, &watcher, json!({ "content": "hi" })).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let response = app
        .post(
            &path,
            &token("a1", "agent", "t"),
            json!({ "content": "hi" }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn marking_read_counts_the_other_sides_messages_and_clears_unread() {
    let app = spawn_app().await;
    let customer = token("c1", "customer", "t");
    let agent = token("a1", "agent", "t");
    let id = app.open_session(&customer, Some("one")).await;
    let path = format!("/api/chat/sessions/{id}/messages");
    app.post(&path, &customer, json!({ "content": "two" }))
        .await;
    app.post(
        &format!("/api/chat/sessions/{id}/assign"),
        &agent,
        json!({}),
    )
    .await;
    app.post(&path, &agent, json!({ "content": "answer" }))
        .await;
    let read = body(
        app.post(&format!("/api/chat/sessions/{id}/read"), &agent, json!({}))
            .await,
    )
    .await;
    assert_eq!(read, json!({ "count": 2 }));
    let again = body(
        app.post(
            &format!("/api/chat/sessions/{id}/read"),
            &agent,
            json!(null),
        )
        .await,
    )
    .await;
    assert_eq!(again, json!({ "count": 0 }));
    let session = body(
        app.get(&format!("/api/chat/sessions/{id}"), &customer)
            .await,
    )
    .await;
    assert_eq!(session["unreadCount"], 0);
    let by_customer = body(
        app.post(
            &format!("/api/chat/sessions/{id}/read"),
            &customer,
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(by_customer, json!({ "count": 1 }));
    let missing = app
        .post(
            &format!("/api/chat/sessions/{id}/read"),
            &customer,
            json!({ "messageId": "nope" }),
        )
        .await;
    assert_error(missing, StatusCode::NOT_FOUND, "not_found").await;
}
