//! `/api/chat/sessions`: open, list, get, assign, close, stats.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn a_customer_with_an_open_session_gets_it_back_with_200() {
    let app = spawn_app().await;
    let customer = token("c1", "customer", "t");
    let first = app.open_session(&customer, None).await;
    let response = app
        .post(
            "/api/chat/sessions",
            &customer,
            json!({ "message": "again" }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let session = body(response).await;
    assert_eq!(session["id"], first.as_str());
    assert_eq!(session["unreadCount"], 1);
}

#[tokio::test]
async fn agents_cannot_open_sessions() {
    let app = spawn_app().await;
    let response = app
        .post("/api/chat/sessions", &token("a1", "agent", "t"), json!({}))
        .await;
    assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;
}

#[tokio::test]
async fn a_new_session_is_pending_and_names_its_customer() {
    let app = spawn_app().await;
    let customer = token("c1", "customer", "t");
    let id = app.open_session(&customer, Some("hi")).await;
    let session = body(
        app.get(&format!("/api/chat/sessions/{id}"), &customer)
            .await,
    )
    .await;
    assert_eq!(session["status"], "pending");
    assert_eq!(
        session["customer"],
        json!({ "id": "c1", "role": "customer", "name": "c1 name" })
    );
    assert_eq!(session["agent"], json!(null));
    assert_eq!(session["unreadCount"], 1);
    let created = session["createdAt"].as_str().unwrap();
    assert!(created.ends_with('Z') && created.len() == 24, "{created}");
}

#[tokio::test]
async fn an_agent_takes_a_pending_session_and_a_second_agent_gets_conflict() {
    let app = spawn_app().await;
    let id = app.open_session(&token("c1", "customer", "t"), None).await;
    let path = format!("/api/chat/sessions/{id}/assign");
    let response = app.post(&path, &token("a1", "agent", "t"), json!({})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let session = body(response).await;
    assert_eq!(session["status"], "active");
    assert_eq!(session["agent"]["id"], "a1");
    assert!(session["assignedAt"].is_string());
    let response = app.post(&path, &token("a2", "agent", "t"), json!({})).await;
    assert_error(response, StatusCode::CONFLICT, "conflict").await;
}

#[tokio::test]
async fn an_admin_transfers_to_a_known_agent_and_keeps_assigned_at() {
    let app = spawn_app().await;
    let id = app.open_session(&token("c1", "customer", "t"), None).await;
    let path = format!("/api/chat/sessions/{id}/assign");
    let taken = body(app.post(&path, &token("a1", "agent", "t"), json!({})).await).await;
    // a2 becomes known to the server by calling it once.
    app.get("/api/chat/stats", &token("a2", "agent", "t")).await;
    let admin = token("boss", "admin", "t");
    let moved = body(app.post(&path, &admin, json!({ "agentId": "a2" })).await).await;
    assert_eq!(moved["agent"]["id"], "a2");
    assert_eq!(moved["assignedAt"], taken["assignedAt"]);
    let response = app
        .post(&path, &admin, json!({ "agentId": "nobody" }))
        .await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
    let response = app.post(&path, &admin, json!({ "agentId": "c1" })).await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn customers_cannot_assign_and_see_only_their_own_sessions() {
    let app = spawn_app().await;
    let mine = token("c1", "customer", "t");
    let id = app.open_session(&mine, None).await;
    let other = token("c2", "customer", "t");
    assert_error(
        app.get(&format!("/api/chat/sessions/{id}"), &other).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_error(
        app.post(&format!("/api/chat/sessions/{id}/assign"), &mine, json!({}))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let listed = body(app.get("/api/chat/sessions", &other).await).await;
    assert_eq!(listed["items"], json!([]));
}

#[tokio::test]
async fn another_tenants_session_is_not_found_even_for_its_admin() {
    let app = spawn_app().await;
    let id = app
        .open_session(&token("c1", "customer", "acme"), None)
        .await;
    let outsider = token("root", "admin", "globex");
    for path in [
        format!("/api/chat/sessions/{id}"),
        format!("/api/chat/sessions/{id}/messages"),
    ] {
        assert_error(
            app.get(&path, &outsider).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
    let response = app
        .post(
            &format!("/api/chat/sessions/{id}/close"),
            &outsider,
            json!({}),
        )
        .await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
    let listed = body(app.get("/api/chat/sessions", &outsider).await).await;
    assert_eq!(listed["items"], json!([]));
}

#[tokio::test]
async fn session_lists_are_newest_first_and_paged_by_cursor() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(
            app.open_session(&token(&format!("c{n}"), "customer", "t"), None)
                .await,
        );
    }
    let agent = token("a1", "agent", "t");
    let page1 = body(app.get("/api/chat/sessions?limit=2", &agent).await).await;
    let cursor = page1["nextCursor"].as_str().unwrap().to_string();
    let page2 = body(
        app.get(
            &format!("/api/chat/sessions?limit=2&cursor={cursor}"),
            &agent,
        )
        .await,
    )
    .await;
    let page3 = body(
        app.get(
            &format!(
                "/api/chat/sessions?limit=2&cursor={}",
                page2["nextCursor"].as_str().unwrap()
            ),
            &agent,
        )
        .await,
    )
    .await;
    assert_eq!(page3["nextCursor"], json!(null));
    let listed: Vec<String> = [page1, page2, page3]
        .iter()
        .flat_map(|p| {
            p["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["id"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    ids.reverse();
    assert_eq!(listed, ids);
}

#[tokio::test]
async fn session_lists_filter_by_status_and_refuse_bad_parameters() {
    let app = spawn_app().await;
    let id = app.open_session(&token("c1", "customer", "t"), None).await;
    app.open_session(&token("c2", "customer", "t"), None).await;
    let agent = token("a1", "agent", "t");
    app.post(
        &format!("/api/chat/sessions/{id}/assign"),
        &agent,
        json!({}),
    )
    .await;
    let active = body(app.get("/api/chat/sessions?status=active", &agent).await).await;
    assert_eq!(active["items"].as_array().unwrap().len(), 1);
    assert_eq!(active["items"][0]["id"], id.as_str());
    for bad in ["status=open", "limit=0", "limit=abc", "cursor=%%%"] {
        let response = app.get(&format!("/api/chat/sessions?{bad}"), &agent).await;
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_payload").await;
    }
}

#[tokio::test]
async fn closing_twice_returns_the_closed_session_unchanged() {
    let app = spawn_app().await;
    let customer = token("c1", "customer", "t");
    let id = app.open_session(&customer, None).await;
    let path = format!("/api/chat/sessions/{id}/close");
    let closed = body(
        app.post(&path, &customer, json!({ "reason": "solved" }))
            .await,
    )
    .await;
    assert_eq!(closed["status"], "closed");
    assert_eq!(closed["closedBy"]["id"], "c1");
    let again = body(app.post(&path, &customer, json!({})).await).await;
    assert_eq!(again, closed);
}

#[tokio::test]
async fn stats_count_the_tenants_sessions_for_agents_only() {
    let app = spawn_app().await;
    let id = app
        .open_session(&token("c1", "customer", "t"), Some("hello"))
        .await;
    app.open_session(&token("c2", "customer", "t"), None).await;
    app.open_session(&token("c3", "customer", "elsewhere"), Some("hi"))
        .await;
    let agent = token("a1", "agent", "t");
    app.post(
        &format!("/api/chat/sessions/{id}/assign"),
        &agent,
        json!({}),
    )
    .await;
    app.post(
        &format!("/api/chat/sessions/{id}/messages"),
        &agent,
        json!({ "content": "how can I help?" }),
    )
    .await;
    let stats = body(app.get("/api/chat/stats", &agent).await).await;
    assert_eq!(stats["pendingSessions"], 1);
    assert_eq!(stats["activeSessions"], 1);
    assert_eq!(stats["closedToday"], 0);
    assert_eq!(stats["messagesToday"], 2);
    assert!(stats["avgWaitSeconds"].as_f64().unwrap() >= 0.0);
    assert!(stats["avgFirstResponseSeconds"].as_f64().unwrap() >= 0.0);
    let response = app
        .get("/api/chat/stats", &token("c1", "customer", "t"))
        .await;
    assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;
}
