//! What the OpenAPI document says beyond each route's own annotation, written once for all
//! of them so no route can forget it:
//!
//! - every response has a `description` (OpenAPI 3.1 requires one): the route's own, or the
//!   standard one for its status;
//! - every operation with an id in its path documents the `400 invalid_id` it answers for a
//!   malformed one, and every operation that needs credentials its `401`;
//! - the seed's alias routes (`/webhooks/status/{task_id}`,
//!   `/subscriptions/{id}/recent-deliveries`) appear as the routes they alias;
//! - every route that also serves under `/applications/{app}` ([`crate::tenant`]) appears
//!   there too, with the `app` path parameter and the `404` for an application that does
//!   not exist or that the credentials do not reach.
//!
//! Must never: describe a route the server does not serve.

use utoipa::Modify;
use utoipa::openapi::path::{Operation, Parameter, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::{OpenApi, Ref, RefOr, Required, ResponseBuilder};

/// The plain routes that also serve under `/applications/{app}` (see `routes::configure`).
const SCOPED: &[&str] = &[
    "/subscriptions/",
    "/subscriptions/{id}",
    "/subscriptions/{id}/pause",
    "/subscriptions/{id}/resume",
    "/subscriptions/{id}/rotate-secret",
    "/subscriptions/{id}/test",
    "/subscriptions/{id}/deliveries",
    "/subscriptions/{id}/recover",
    "/deliveries/{task_id}",
    "/deliveries/{task_id}/retry",
    "/deliveries/{task_id}/skip",
    "/messages/{id}",
    "/events",
    "/stream",
    "/stats/overview",
    "/messages",
    "/deliveries/retry",
    "/deliveries/cancel",
    "/stats/subscriptions",
    "/subscriptions/{id}/stats",
];

/// `(alias, route it aliases)`.
const ALIASES: &[(&str, &str)] = &[
    ("/webhooks/status/{task_id}", "/deliveries/{task_id}"),
    (
        "/subscriptions/{id}/recent-deliveries",
        "/subscriptions/{id}/deliveries",
    ),
];

pub struct Contract;

impl Modify for Contract {
    fn modify(&self, doc: &mut OpenApi) {
        for (alias, of) in ALIASES {
            if let Some(mut item) = doc.paths.paths.get(*of).cloned() {
                for op in operations(&mut item) {
                    op.operation_id = op.operation_id.take().map(|id| format!("{id}_alias"));
                }
                doc.paths.paths.insert((*alias).to_owned(), item);
            }
        }
        for path in SCOPED {
            let Some(mut item) = doc.paths.paths.get(*path).cloned() else {
                continue;
            };
            for op in operations(&mut item) {
                add_parameter(op, app_parameter());
                op.responses
                    .responses
                    .entry("404".to_owned())
                    .or_insert_with(|| RefOr::T(error_response("404")));
                op.operation_id = op
                    .operation_id
                    .take()
                    .map(|id| format!("{id}_in_application"));
            }
            let scoped = format!("/applications/{{app}}{}", path.trim_end_matches('/'));
            doc.paths.paths.insert(scoped, item);
        }
        for (path, item) in doc.paths.paths.iter_mut() {
            let has_id = path.contains('{');
            for op in operations(item) {
                complete(op, has_id);
            }
        }
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
    ]
    .into_iter()
    .flatten()
}

fn app_parameter() -> Parameter {
    ParameterBuilder::new()
        .name("app")
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some("Application id or uid"))
        .schema(Some(
            utoipa::openapi::ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::Type::String),
        ))
        .build()
}

fn add_parameter(op: &mut Operation, p: Parameter) {
    let params = op.parameters.get_or_insert_with(Vec::new);
    let named = |q: &RefOr<Parameter>| matches!(q, RefOr::T(q) if q.name == p.name);
    if !params.iter().any(named) {
        params.insert(0, RefOr::T(p));
    }
}

/// Fills in descriptions and the statuses every such operation can answer.
fn complete(op: &mut Operation, has_id: bool) {
    let needs_key = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let mut add = |code: &str| {
        op.responses
            .responses
            .entry(code.to_owned())
            .or_insert_with(|| RefOr::T(error_response(code)));
    };
    if has_id {
        add("400");
    }
    if needs_key {
        add("401");
    }
    for (code, response) in op.responses.responses.iter_mut() {
        if let RefOr::T(r) = response
            && r.description.is_empty()
        {
            r.description = standard_description(code).to_owned();
        }
    }
}

fn error_response(code: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(standard_description(code))
        .content(
            "application/json",
            utoipa::openapi::ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
}

fn standard_description(code: &str) -> &'static str {
    match code {
        "200" => "OK",
        "201" => "Created",
        "202" => "Accepted",
        "204" => "No content",
        "400" => "Malformed input (a bad id, query, body or field); the message names it",
        "401" => "Missing or wrong credentials (bearer key or session cookie), or a bad signature",
        "403" => {
            "The credentials are valid but not allowed here (an application key on an admin route)"
        }
        "404" => "No such object, or one of an application these credentials do not reach",
        "405" => "The route does not accept this method",
        "409" => "The request conflicts with the object's state",
        "413" => "The body is larger than COURIER_MAX_BODY",
        "422" => "The payload was refused (schema, or storage)",
        "503" => {
            "A dependency (Postgres, Redis) is unavailable, or too many requests wait; retry after Retry-After"
        }
        _ => "See the error body",
    }
}
