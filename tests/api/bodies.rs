//! Request bodies the server cannot read: over the limit, or cut short.

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

#[tokio::test]
async fn a_body_over_the_limit_is_413_message_too_long() {
    let app = spawn_app().await;
    let customer = token("c1", "customer", "t");
    let huge = format!("{{\"subject\":\"{}\"}}", "x".repeat(3 * 1024 * 1024));
    let response = app
        .client
        .post(app.url("/api/chat/sessions"))
        .bearer_auth(&customer)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "message_too_long").await;
}

#[tokio::test]
async fn a_body_cut_short_is_invalid_payload_not_message_too_long() {
    let app = spawn_app().await;
    let customer = token("c1", "customer", "t");
    let mut tcp = TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /api/chat/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {customer}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{{\"subject\":"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.shutdown().await.unwrap(); // the promised 100 bytes never come
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("\"invalid_payload\""), "{answer}");
    let response = app.get("/api/chat/sessions", &customer).await;
    let items = body(response).await["items"].as_array().unwrap().len();
    assert_eq!(items, 0, "nothing was opened");
}
