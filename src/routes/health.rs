//! Liveness and readiness. `/health` says the process serves requests; `/ready` checks
//! Postgres and Redis separately and answers 503 when either is unreachable.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::routes::RouteExt;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.at("/health", web::get().to(health))
        .at("/ready", web::get().to(ready));
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "healthy", "version": "0.1.0"}))]
pub struct Health {
    pub status: &'static str,
    pub version: &'static str,
}

/// Liveness: the process is up and serving.
#[utoipa::path(get, path = "/health", tag = "operations", responses((status = 200, body = Health)))]
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "healthy",
        version: env!("CARGO_PKG_VERSION"),
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DependencyCheck {
    /// `ok` or `unavailable`.
    pub status: &'static str,
    /// Why it is unavailable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "ready", "postgres": {"status": "ok"}, "redis": {"status": "ok"}}))]
pub struct Readiness {
    /// `ready` or `not_ready`.
    pub status: &'static str,
    pub postgres: DependencyCheck,
    pub redis: DependencyCheck,
}

fn check(result: Result<(), String>) -> DependencyCheck {
    match result {
        Ok(()) => DependencyCheck {
            status: "ok",
            error: None,
        },
        Err(e) => DependencyCheck {
            status: "unavailable",
            error: Some(e),
        },
    }
}

async fn with_deadline<F: std::future::Future<Output = Result<(), String>>>(
    f: F,
) -> Result<(), String> {
    match tokio::time::timeout(Duration::from_secs(2), f).await {
        Ok(r) => r,
        Err(_) => Err("no answer within 2s".into()),
    }
}

/// Readiness: Postgres and Redis, each reported on its own.
#[utoipa::path(get, path = "/ready", tag = "operations",
    responses((status = 200, body = Readiness), (status = 503, description = "A dependency is unreachable", body = Readiness)))]
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let pg = with_deadline(async {
        sqlx::query_scalar::<_, i32>("SELECT 1")
            .fetch_one(&state.db)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    let redis = with_deadline(courier_actors::cache::ping(&state.redis));
    let (pg, redis) = futures_util::future::join(pg, redis).await;
    let ok = pg.is_ok() && redis.is_ok();
    let body = Readiness {
        status: if ok { "ready" } else { "not_ready" },
        postgres: check(pg),
        redis: check(redis),
    };
    if ok {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
