use axum::Json;
use serde_json::{Value, json};

/// `GET /v1/health`: no key needed, touches no dependency (a liveness check).
pub async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}
