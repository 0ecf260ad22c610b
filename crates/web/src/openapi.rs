//! The OpenAPI 3 document, generated from the route registry so it always lists every route with
//! its policy (`x-policy`). Served at `/api/v1/openapi.json` and rendered at `/api/docs`.

use axum::{Json, extract::State};
use serde_json::{Map, Value, json};

use crate::AppState;

pub fn build(routes: &[crate::RouteSpec]) -> Value {
    let mut paths = Map::new();
    for r in routes.iter().filter(|r| r.is_api()) {
        let entry = paths.entry(r.path.to_owned()).or_insert_with(|| json!({}));
        let params: Vec<Value> = r
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let mut op = json!({
            "summary": r.summary,
            "x-policy": r.policy.describe(),
            "parameters": params,
            "responses": {
                "200": {"description": "Success"},
                "4XX": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            },
        });
        if r.policy != crate::Policy::Public {
            op["security"] = json!([{"bearer": []}, {"cookie": []}]);
        }
        entry[r.method.as_str().to_lowercase()] = op;
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "Yiqiao API", "version": env!("CARGO_PKG_VERSION"), "description": "Yiqiao (医桥) telemedicine platform API. Errors are {\"error\":{\"code\",\"message\"}}; step_up_required means POST /api/v1/auth/step-up first."},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": crate::auth::SESSION_COOKIE},
            },
            "schemas": {"Error": {"type": "object", "properties": {"error": {"type": "object", "properties": {"code": {"type": "string"}, "message": {"type": "string"}}, "required": ["code", "message"]}}}},
        },
    })
}

pub async fn document(State(s): State<AppState>) -> Json<Value> {
    Json(build(&s.routes))
}
