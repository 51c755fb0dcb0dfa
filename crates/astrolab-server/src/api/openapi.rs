//! The OpenAPI 3.1 document, generated from the route table in
//! [`super::routes`], the same table the router is built from.

use axum::Json;
use serde_json::{json, Map, Value};

use super::{In, RouteDoc};
use crate::auth::{ADMIN, RESEARCHER};

fn role_name(level: u8) -> &'static str {
    match level {
        ADMIN => "admin",
        RESEARCHER => "researcher",
        _ => "viewer",
    }
}

fn operation(doc: &RouteDoc) -> Value {
    let params: Vec<Value> = doc
        .params
        .iter()
        .map(|p| {
            json!({
                "name": p.name,
                "in": if p.place == In::Path { "path" } else { "query" },
                "required": p.required,
                "description": p.doc,
                "schema": { "type": p.ty },
            })
        })
        .collect();
    let mut op = json!({
        "summary": doc.summary,
        "tags": [doc.tag],
        "operationId": format!("{}_{}", doc.method.to_lowercase(),
            doc.path.trim_start_matches("/api/v1/").replace(['/', '{', '}', '.'], "_")),
        "parameters": params,
        "responses": {
            "200": { "description": "success", "content": { doc.produces: {} } },
            "400": { "$ref": "#/components/responses/Error" },
            "401": { "$ref": "#/components/responses/Error" },
            "403": { "$ref": "#/components/responses/Error" },
            "404": { "$ref": "#/components/responses/Error" },
            "413": { "$ref": "#/components/responses/Error" },
        },
    });
    match doc.role {
        None => op["security"] = json!([]),
        Some(level) => {
            op["x-astrolab-role"] = json!(role_name(level));
            op["description"] = json!(format!("Needs role {} or above.", role_name(level)));
        }
    }
    if let Some((media, what)) = doc.body {
        op["requestBody"] = json!({
            "required": true,
            "description": what,
            "content": { media: {} },
        });
    }
    op
}

/// Builds the document.
pub fn build() -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for (doc, _) in super::routes() {
        let entry = paths
            .entry(doc.path.to_string())
            .or_insert_with(|| json!({}));
        entry[doc.method.to_lowercase()] = operation(&doc);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "astrolab API",
            "version": crate::VERSION,
            "description": "DESI catalogs and spectra, cosmic voids and 21 cm hydrogen-line data of the lab. \
                Authenticate with `Authorization: Bearer TOKEN` (astrolab token create) or a browser session. \
                Errors share one body: {\"error\": {\"code\", \"message\", \"field\"}}. Lists are paginated \
                with limit and offset; requests beyond the server's limits get 413.",
        },
        "servers": [{ "url": "/" }],
        "security": [{ "bearer": [] }, { "session": [] }],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer", "description": "API token: alab_<prefix>_<secret>" },
                "session": { "type": "apiKey", "in": "cookie", "name": crate::auth::SESSION_COOKIE },
            },
            "responses": {
                "Error": {
                    "description": "error",
                    "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } },
                },
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": { "type": "string" },
                                "message": { "type": "string" },
                                "field": { "type": "string" },
                            },
                        },
                    },
                },
            },
        },
    })
}

/// `GET /api/v1/openapi.json` (public: it describes, it holds no data).
pub async fn document() -> Json<Value> {
    Json(build())
}
