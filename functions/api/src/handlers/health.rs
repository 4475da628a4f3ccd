use axum::Json;
use serde_json::{Value, json};

#[utoipa::path(get, path = "/v1/health", tag = "meta", operation_id = "health",
    responses((status = 200, description = "Alive.", body = crate::openapi::Health)))]
/// `GET /v1/health`: no key needed, touches no dependency (a liveness check).
pub async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}
